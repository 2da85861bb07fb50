/**
 * A process's waiting calls take their slots by their jobs' priorities: a job lets the better-priority
 * jobs of its process that are asking go first; jobs of one priority ask together.
 */
import { describe, expect, it } from 'vitest';
import type { CallGate } from '../src/queue/call-gate.js';
import { orderByPriority } from '../src/queue/priority-gate.js';

/**
 * A gate that grants slots when the test says so. Each call is known by its signal (`as` gives every
 * call one of its own), since the gate may be asked after the call began.
 */
function manualGate() {
  const asked: Array<{ id: string; priority: number | undefined; grant: () => void }> = [];
  const ids = new WeakMap<AbortSignal, string>();
  const gate: CallGate = {
    acquire: (signal, priority) =>
      new Promise<void>((resolve) =>
        asked.push({ id: (signal && ids.get(signal)) ?? '?', priority, grant: resolve }),
      ),
    throttled: () => Promise.resolve({ kind: 'none', pauseMs: 0 }),
    unreachable: () => Promise.resolve({ pauseMs: 0, raiseAlert: false, downForMs: 0 }),
    reachable: () => Promise.resolve(false),
  };
  return {
    gate,
    asked,
    /** A signal that names the call `id` to the gate (aborted by `controller.abort()`). */
    as: (id: string, controller = new AbortController()) => {
      ids.set(controller.signal, id);
      return controller.signal;
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('orderByPriority', () => {
  it('asks for a low job only once no better job of the process is asking', async () => {
    const m = manualGate();
    const gateOf = orderByPriority(m.gate);
    const done: string[] = [];
    const call = (id: string, priority: number) =>
      gateOf(priority)
        .acquire(m.as(id))
        .then(() => done.push(id));

    const low1 = call('low1', 3);
    await settle();
    // Nothing better was asking: the low job asked at once.
    expect(m.asked.map((a) => a.id)).toEqual(['low1']);

    const normal1 = call('normal1', 2);
    const normal2 = call('normal2', 2);
    const low2 = call('low2', 3);
    const high = call('high', 1);
    await settle();
    // Jobs of one priority ask together; low2 waits behind the normal jobs, which the high one does not
    // hold back since they asked before it.
    expect(m.asked.map((a) => a.id)).toEqual(['low1', 'normal1', 'normal2', 'high']);
    // Each asks with its priority, so the fleet's controller orders them against other processes' calls.
    expect(m.asked.map((a) => a.priority)).toEqual([3, 2, 2, 1]);

    m.asked.find((a) => a.id === 'high')!.grant();
    m.asked.find((a) => a.id === 'normal1')!.grant();
    await settle();
    expect(m.asked.map((a) => a.id)).toEqual(['low1', 'normal1', 'normal2', 'high']);
    m.asked.find((a) => a.id === 'normal2')!.grant();
    await settle();
    // No better job asking: low2 asks now.
    expect(m.asked.map((a) => a.id)).toEqual(['low1', 'normal1', 'normal2', 'high', 'low2']);
    m.asked.find((a) => a.id === 'low1')!.grant();
    m.asked.find((a) => a.id === 'low2')!.grant();
    await Promise.all([low1, normal1, normal2, low2, high]);
    expect(done).toEqual(['high', 'normal1', 'normal2', 'low1', 'low2']);
  });

  it('asks for a job without a priority as the best, 0', async () => {
    const m = manualGate();
    void orderByPriority(m.gate)(undefined).acquire(m.as('lookup'));
    await settle();
    expect(m.asked).toMatchObject([{ id: 'lookup', priority: 0 }]);
  });

  it('gives up waiting behind better jobs when its signal is aborted', async () => {
    const m = manualGate();
    const gateOf = orderByPriority(m.gate);
    void gateOf(2).acquire(m.as('normal'));
    const stop = new AbortController();
    const low = gateOf(3).acquire(m.as('low', stop));
    await settle();
    stop.abort(new Error('stopping'));
    await expect(low).rejects.toThrow('stopping');
    expect(m.asked.map((a) => a.id)).toEqual(['normal']);
  });
});
