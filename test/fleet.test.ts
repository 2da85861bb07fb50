/**
 * Two `cams-enrich worker` processes (the built CLI, as users run it) share one queue and one rate
 * limit against a simulator that counts with a strict sliding one-second window.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, startWorkerProcess } from './helpers/processes.js';

let p: Pipeline | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
});

describe('a fleet of worker processes', () => {
  it('shares one rate limit: never over the quota in any second, few throttles, each number fetched once', async () => {
    p = await startPipeline({ rate: 10 });
    const numbers = Array.from({ length: 100 }, (_, i) => `4479${String(11_000_000 + i * 37).slice(-8)}`);
    const file = await p.csv('fleet.csv', 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n');
    const runId = await p.importFile(file);
    const workers = [startWorkerProcess(p), startWorkerProcess(p)];

    const s = await p.waitFinished(runId, 60_000);
    expect(s).toMatchObject({ total: 100, enriched: 100, failed: 0, pending: 0 });
    const c = p.sim.counters();
    expect(c.maxCallsInAnyWindow).toBeLessThanOrEqual(10);
    // A throttle of the line widens the shared margin by 1.6x, so a few throttles (eight from 25 ms to
    // the largest margin) are all the line can cost; the share of the quota is measured by the bench.
    expect(c.throttled).toBeLessThanOrEqual(8);
    expect(Object.values(c.okByNumber).filter((n) => n > 1)).toEqual([]);
    expect(Object.keys(c.okByNumber)).toHaveLength(100);

    // Graceful shutdown: SIGTERM lets each process finish and exit 0.
    for (const w of workers) w.child.kill('SIGTERM');
    const codes = await Promise.all(workers.map(async (w) => (await w.exited).code));
    expect(codes).toEqual([0, 0]);
  });
});
