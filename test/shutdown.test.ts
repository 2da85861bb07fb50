/**
 * Stopping a `cams-enrich worker` process: a stop takes no new job and makes no call beyond the ones
 * in hand; a stop whose jobs hang ends when the grace period does, or at the second signal; a worker
 * whose Redis has gone away still exits on SIGTERM.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import type { PgProxy } from './helpers/pg-proxy.js';
import { startPgProxy } from './helpers/pg-proxy.js';
import type { CliProcess } from './helpers/processes.js';
import { assertBuilt, killAll, startWorkerProcess, waitFor } from './helpers/processes.js';
import { redisUrl } from './helpers/services.js';
import { runStatus } from '../src/runs/status.js';

let p: Pipeline | undefined;
let proxy: PgProxy | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  await proxy?.close();
  proxy = undefined;
  await p?.close();
  p = undefined;
});

async function importNumbers(pipeline: Pipeline, count: number): Promise<number> {
  const numbers = Array.from({ length: count }, (_, i) => `4479${String(30_000_000 + i * 43).slice(-8)}`);
  return pipeline.importFile(await pipeline.csv('n.csv', 'phone\n' + numbers.join('\n') + '\n'));
}

describe('stopping a worker', () => {
  it('takes no new job: only the calls in hand are made after SIGTERM, each one stored, exit 0', async () => {
    p = await startPipeline({ simulator: { faults: [{ answer: { kind: 'slow', delayMs: 1500 } }] } });
    const runId = await importNumbers(p, 100);
    const w = startWorkerProcess(p, { concurrency: 4 });
    const sim = p.sim;
    await waitFor('calls under way', 30_000, () => sim.counters().calls >= 8);
    const callsAtStop = sim.counters().calls;
    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit.code, w.stderr()).toBe(0);
    const c = sim.counters();
    // At most one more call per job slot: a job that had its slot when the signal came.
    expect(c.calls - callsAtStop).toBeLessThanOrEqual(4);
    // Every answer received was stored: no call was wasted by stopping.
    const { rows } = await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM business_profiles');
    expect(Number(rows[0]!.n)).toBe(Object.keys(c.okByNumber).length);
    const s = await runStatus(p.pool, runId);
    expect(s.enriched).toBe(Object.keys(c.okByNumber).length);
    expect(s.failed).toBe(0);
  });

  it('ends with the grace period when the calls in hand hang, exit 1', async () => {
    p = await startPipeline({ simulator: { faults: [{ answer: { kind: 'hang' } }] } });
    await importNumbers(p, 20);
    const w = startWorkerProcess(p, { env: { CAMS_READ_TIMEOUT_MS: '300000' }, args: ['--grace', '2s'] });
    const sim = p.sim;
    await waitFor('a hung call', 30_000, () => sim.counters().hung >= 1);
    w.child.kill('SIGTERM');
    // The read timeout (300 s) is far beyond the test's limit: only the grace period can end it.
    const exit = await w.exited;
    expect(exit.code, w.stderr()).toBe(1);
    expect(w.stderr()).toContain('grace period over');
  });

  it('the second signal forces the stop through the worker, exit 1', async () => {
    p = await startPipeline({ simulator: { faults: [{ answer: { kind: 'hang' } }] } });
    await importNumbers(p, 20);
    const w = startWorkerProcess(p, { env: { CAMS_READ_TIMEOUT_MS: '300000', CAMS_SHUTDOWN_GRACE: '10m' } });
    const sim = p.sim;
    await waitFor('a hung call', 30_000, () => sim.counters().hung >= 1);
    w.child.kill('SIGTERM');
    await waitFor('the first signal to be taken', 10_000, () =>
      w.stderr().includes('shutting down gracefully'),
    );
    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit.code, w.stderr()).toBe(1);
    expect(w.stderr()).toContain('forced stop');
  });

  it('exits on SIGTERM within the grace period when Redis is unreachable', async () => {
    p = await startPipeline();
    await importNumbers(p, 100);
    proxy = await startPgProxy(redisUrl()); // a plain TCP proxy: here in front of Redis
    const redisViaProxy = new URL(redisUrl());
    redisViaProxy.hostname = '127.0.0.1';
    redisViaProxy.port = String(proxy.port);
    const w: CliProcess = startWorkerProcess(p, {
      env: { REDIS_URL: redisViaProxy.toString() },
      args: ['--grace', '2s'],
    });
    const sim = p.sim;
    await waitFor('calls under way', 30_000, () => sim.counters().calls >= 3);
    void proxy.cut(120_000);
    const cut = proxy;
    await waitFor('the worker to find Redis unreachable', 30_000, () => cut.refused >= 1);
    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit.code, w.stderr()).toBe(1);
  });
});
