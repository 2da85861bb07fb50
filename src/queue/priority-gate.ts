/**
 * Calls of one process take their slots in the order of their jobs' priorities: a job waiting for a
 * slot lets the process's jobs of a better BullMQ priority (a smaller number; 0, no priority, is the
 * best) that are waiting go first, and asks the gate only once none is left. Jobs of one priority ask
 * at once, as before, so a process whose jobs share a priority loses nothing. Without it a run's last
 * jobs, all in workers' hands, would share the slots with the lower-priority jobs the free places took.
 * The gate is asked with the job's priority, so that the rate controller orders the calls of all the
 * fleet's processes the same way.
 */
import type { CallGate } from './call-gate.js';

/** The gate of a job of priority `priority`. */
export type GateOfPriority = (priority: number | undefined) => CallGate;

export function orderByPriority(gate: CallGate): GateOfPriority {
  // Jobs asking for a slot, per priority.
  const asking = new Map<number, number>();
  let changed = deferred();
  const betterAsking = (priority: number) => {
    for (const [p, n] of asking) if (p < priority && n > 0) return true;
    return false;
  };

  async function acquire(priority: number, signal: AbortSignal | undefined): Promise<void> {
    while (betterAsking(priority)) await until(changed.promise, signal);
    asking.set(priority, (asking.get(priority) ?? 0) + 1);
    try {
      await gate.acquire(signal, priority);
    } finally {
      asking.set(priority, asking.get(priority)! - 1);
      const c = changed;
      changed = deferred();
      c.resolve();
    }
  }

  return (priority) => ({
    acquire: (signal) => acquire(priority ?? 0, signal),
    throttled: (retryAfterMs) => gate.throttled(retryAfterMs),
    unreachable: () => gate.unreachable(),
    reachable: () => gate.reachable(),
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** `promise`, or the signal's reason once it is aborted. */
function until(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
