/**
 * The processor on its own: a function of its dependencies and the job, no Worker involved. The
 * ledger is the real one on a fresh database and CAMS is the simulator; only the fleet controls
 * (which act on Redis in production) are recorded here.
 */
import { UnrecoverableError } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnrichJob, FleetControl } from '../workers/enrich.js';
import { enrich } from '../workers/enrich.js';
import type { CamsError } from '../src/cams/cams-error.js';
import { createLedger } from '../src/db/ledger.js';
import { accountRateKey, createRateController } from '../src/queue/rate-controller.js';
import { runStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { stockWay } from '../bench/stock-gate.js';

let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

interface Recorded extends FleetControl {
  pauses: string[];
  alerts: string[];
}

function recordingFleet(): Recorded {
  const fleet: Recorded = {
    pauses: [],
    alerts: [],
    alertUnreachable: async (err: CamsError) => {
      fleet.alerts.push(err.code);
    },
    clearUnreachable: async () => {
      fleet.alerts.push('cleared');
    },
    pauseForAccount: async (err: CamsError) => {
      fleet.pauses.push(err.code);
    },
  };
  return fleet;
}

function job(phoneNumber: string, over: Partial<EnrichJob> = {}): EnrichJob {
  return {
    id: 'j1',
    data: { custSpaceId: 'S1', phoneNumber },
    attemptsMade: 0,
    attemptsStarted: 1,
    opts: { attempts: 3 },
    ...over,
  };
}

async function setUp(numbers: string[]) {
  p = await startPipeline({ rate: 50 });
  const file = await p.csv('n.csv', 'phone\n' + numbers.join('\n') + '\n');
  const runId = await p.importFile(file);
  const fleet = recordingFleet();
  const gate = createRateController({ redis: p.redis, key: accountRateKey(p.account), quota: 50 });
  const deps = { cams: p.cams, gate, ledger: createLedger(p.pool), log: p.log, fleet };
  return { runId, fleet, deps, pipeline: p };
}

describe('enrich()', () => {
  it('fetches, stores and settles a pending number', async () => {
    const { deps, runId, pipeline } = await setUp(['8613800001234']);
    await expect(enrich(deps, job('8613800001234'))).resolves.toBe('enriched');
    const s = await pipeline.waitFinished(runId, 1000);
    expect(s).toMatchObject({ enriched: 1, pending: 0 });
  });

  it('makes no call for a number no run waits for any more', async () => {
    const { deps, pipeline } = await setUp(['8613800001234']);
    await enrich(deps, job('8613800001234'));
    const calls = pipeline.sim.counters().calls;
    await expect(enrich(deps, job('8613800001234'))).resolves.toBe('nothing-pending');
    expect(pipeline.sim.counters().calls).toBe(calls);
  });

  it('serves every run waiting for the number with one call', async () => {
    const { deps, pipeline } = await setUp(['8613800001234']);
    const second = await pipeline.importFile(await pipeline.csv('again.csv', 'phone\n8613800001234\n'));
    await enrich(deps, job('8613800001234'));
    expect(pipeline.sim.counters().calls).toBe(1);
    expect(await pipeline.waitFinished(second, 1000)).toMatchObject({ enriched: 1, pending: 0 });
  });

  it('settles from the store without a call when another worker fetched the number after the run asked', async () => {
    const { deps, pipeline } = await setUp(['8613800001234']);
    await enrich(deps, job('8613800001234'));
    const forced = await pipeline.importFile(await pipeline.csv('forced.csv', 'phone\n8613800001234\n'), {
      maxAgeMs: 0,
    });
    // As if another worker's fetch committed just after this run was created.
    await pipeline.pool.query(`UPDATE business_profiles SET fetched_at = now() + interval '1 second'`);
    await expect(enrich(deps, job('8613800001234'))).resolves.toBe('fresh');
    expect(pipeline.sim.counters().calls).toBe(1);
    expect(await pipeline.waitFinished(forced, 1000)).toMatchObject({ enriched: 1, pending: 0 });
  });

  it('retries a throttled call through the rate controller, without a queue back-off or a spent attempt', async () => {
    const { deps, runId, pipeline } = await setUp(['8613800001234']);
    pipeline.sim.setFaults([
      { answer: { kind: 'error', code: 'System.LimitControl', form: 'http200' }, times: 2 },
    ]);
    await expect(enrich(deps, job('8613800001234'))).resolves.toBe('enriched');
    expect(pipeline.sim.counters()).toMatchObject({ throttled: 2, ok: 1 });
    expect(await pipeline.waitFinished(runId, 1000)).toMatchObject({ enriched: 1, failed: 0 });
  });

  it("with BullMQ's own way (the bench's reference), backs the whole queue off with a growing pause", async () => {
    const { deps, runId, pipeline } = await setUp(['8613800001234']);
    const backOffs: number[] = [];
    const stock = { ...deps, ...stockWay(deps.cams, async (ms) => void backOffs.push(ms)) };
    pipeline.sim.setFaults([{ answer: { kind: 'error', code: 'System.LimitControl', form: 'http200' } }]);
    for (let i = 0; i < 3; i++) {
      const err = await enrich(stock, job('8613800001234')).catch((e: Error) => e);
      expect((err as Error).name).toBe('RateLimitError');
    }
    expect(backOffs).toHaveLength(3);
    expect(backOffs[2]!).toBeGreaterThanOrEqual(3200); // 1 s, 2 s, 4 s ± 20%
    expect(await runStatus(pipeline.pool, runId)).toMatchObject({ enriched: 0, failed: 0, pending: 1 });
    pipeline.sim.setFaults([]);
    await expect(enrich(stock, job('8613800001234'))).resolves.toBe('enriched');
  });

  it('fails a number throttled on too many starts instead of retrying it forever', async () => {
    const { deps, runId, pipeline } = await setUp(['8613800001234']);
    pipeline.sim.setFaults([{ answer: { kind: 'error', code: 'System.LimitControl', form: 'http400' } }]);
    const err = await enrich(
      { ...deps, maxThrottledStarts: 5 },
      job('8613800001234', { attemptsStarted: 5 }),
    ).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(await pipeline.waitFinished(runId, 1000)).toMatchObject({ failed: 1, pending: 0 });
  });

  it('pauses the fleet on an account-wide refusal and leaves the number pending', async () => {
    const { deps, fleet, runId, pipeline } = await setUp(['8613800001234']);
    pipeline.sim.setFaults([{ answer: { kind: 'error', code: 'Ram.PermissionDeny', form: 'http400' } }]);
    const err = await enrich(deps, job('8613800001234')).catch((e: Error) => e);
    expect((err as Error).name).toBe('RateLimitError');
    expect(fleet.pauses).toEqual(['Ram.PermissionDeny']);
    expect(await runStatus(pipeline.pool, runId)).toMatchObject({ enriched: 0, failed: 0, pending: 1 });
  });

  it('rethrows a transient fault for a retry, and records it as the failure on the last attempt', async () => {
    const { deps, runId, pipeline } = await setUp(['8613800001234']);
    pipeline.sim.setFaults([{ answer: { kind: 'http', status: 502 } }]);
    const first = await enrich(deps, job('8613800001234', { attemptsMade: 0 })).catch((e: Error) => e);
    expect(first).not.toBeInstanceOf(UnrecoverableError);
    expect((first as CamsError).classification).toBe('transient');
    const last = await enrich(deps, job('8613800001234', { attemptsMade: 2 })).catch((e: Error) => e);
    expect(last).toBeInstanceOf(UnrecoverableError);
    const { rows } = await pipeline.pool.query('SELECT error_code FROM failed_numbers WHERE run_id = $1', [
      runId,
    ]);
    expect(rows).toHaveLength(1);
  });
});
