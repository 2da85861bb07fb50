/**
 * The CAMS endpoint goes away for a while (the simulator stops; connections are refused) and comes
 * back on the same port: the fleet pauses every call instead of spending the numbers' attempts,
 * raises an alert while it lasts, clears it once the endpoint answers, and every number ends enriched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getAlert } from '../src/db/ledger.js';
import { createRedisRateState, readLimiterState } from '../src/queue/rate-controller.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { Simulator } from '../src/simulator/simulator.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { waitFor } from './helpers/processes.js';

let p: Pipeline | undefined;
let restarted: Simulator | undefined;
afterEach(async () => {
  await p?.close();
  await restarted?.close();
  p = undefined;
  restarted = undefined;
});

describe('an unreachable endpoint', () => {
  it('pauses the fleet without spending attempts, alerts, and enriches every number once it is back', async () => {
    // Two attempts only: with per-number retries, a few refused calls would fail every number.
    p = await startPipeline({
      rate: 20,
      attempts: 2,
      tuning: { unreachablePauseMs: 100, unreachableMaxMs: 400, unreachableAlertMs: 500 },
    });
    const pipeline = p;
    const numbers = Array.from({ length: 40 }, (_, i) => `4479${String(22_000_000 + i * 41).slice(-8)}`);
    const runId = await pipeline.importFile(
      await pipeline.csv('down.csv', 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n'),
    );
    const { port } = pipeline.sim;
    pipeline.startWorkers(2);
    await waitFor('some numbers enriched', 30_000, () => pipeline.sim.counters().ok >= 5);
    const before = pipeline.sim.counters();
    await pipeline.sim.close();

    // While it is down: an alert, a fleet-wide pause, nothing failed, numbers still pending.
    await waitFor(
      'the endpoint-down alert',
      30_000,
      async () => (await getAlert(pipeline.pool, pipeline.queueName)) !== undefined,
    );
    const alert = await getAlert(pipeline.pool, pipeline.queueName);
    expect(alert?.code).toBe('Transport.ConnectionRefused');
    const state = await readLimiterState(createRedisRateState(pipeline.redis, pipeline.account), 20);
    expect(state.unreachableForMs).not.toBeNull();
    const { rows } = await pipeline.pool.query<{ failed: string; pending: string }>(
      'SELECT failed, pending FROM runs WHERE id = $1',
      [runId],
    );
    expect(Number(rows[0]?.failed)).toBe(0);
    expect(Number(rows[0]?.pending)).toBeGreaterThan(0);

    restarted = await startSimulator({
      accessKeyId: pipeline.accessKeyId,
      accessKeySecret: pipeline.accessKeySecret,
      rate: 20,
      port,
    });
    const s = await pipeline.waitFinished(runId, 60_000);
    expect(s).toMatchObject({ total: 40, enriched: 40, failed: 0, pending: 0 });
    const after = restarted.counters();
    // Each number fetched exactly once over both lives of the endpoint.
    expect(before.ok + after.ok).toBe(40);
    expect(Object.values(after.okByNumber).every((n) => n === 1)).toBe(true);
    expect(await getAlert(pipeline.pool, pipeline.queueName)).toBeUndefined();
  });
});
