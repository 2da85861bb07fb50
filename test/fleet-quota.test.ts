/**
 * The fleet's quota is stored with the account's rate controller: `cams-enrich worker` processes
 * started with another `--rate` stop with exit 2 naming both values, unless `--set-quota` says to
 * change it; `status` shows the quota the fleet runs under, not its own `CAMS_RATE_LIMIT`.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claimQuota, createRedisRateState, readLimiterState } from '../src/queue/rate-controller.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import {
  assertBuilt,
  killAll,
  pipelineEnv,
  startCli,
  startWorkerProcess,
  waitFor,
} from './helpers/processes.js';

let p: Pipeline | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
});

async function statusJson(pipeline: Pipeline, env: NodeJS.ProcessEnv = {}) {
  const status = startCli(['status', '--json'], pipelineEnv(pipeline, env));
  const { code } = await status.exited;
  expect(code).toBe(0);
  return JSON.parse(status.stdout()) as {
    limiter: { quota: number; quotaStored: boolean; account: string | null };
  };
}

describe("the fleet's quota", () => {
  it('is stored by the first worker; another --rate exits 2 naming both, --set-quota changes it, status shows it', async () => {
    p = await startPipeline({ rate: 50 });
    const pipeline = p;
    const first = startWorkerProcess(pipeline, { rate: 200 });
    const stored = async () => readLimiterState(createRedisRateState(pipeline.redis, pipeline.account), 1);
    await waitFor('the first worker to store its quota', 90_000, async () => (await stored()).quotaStored);
    // status runs with CAMS_RATE_LIMIT 10 and still shows the fleet's 200/s, and the account.
    const shown = await statusJson(pipeline, { CAMS_RATE_LIMIT: '10' });
    expect(shown.limiter).toMatchObject({ quota: 200, quotaStored: true, account: pipeline.account });
    const text = startCli(['status'], pipelineEnv(pipeline, { CAMS_RATE_LIMIT: '10' }));
    await text.exited;
    expect(text.stdout()).toMatch(/allowed of 200\/s quota, account ak-/);

    const other = startWorkerProcess(pipeline, { rate: 20 });
    const { code } = await other.exited;
    expect(code).toBe(2);
    expect(other.stderr()).toContain('200/s');
    expect(other.stderr()).toContain('20/s');
    expect(other.stderr()).toContain('--set-quota');

    // Without a quota of its own, a worker runs under the stored one.
    const quiet = startWorkerProcess(pipeline, { env: { CAMS_RATE_LIMIT: '', LOG_LEVEL: 'info' } });
    await waitFor('the worker without a quota to start', 90_000, () =>
      /worker started/.test(quiet.stderr() + quiet.stdout()) ? true : quiet.child.exitCode !== null,
    );
    expect(quiet.child.exitCode).toBeNull();

    const changer = startWorkerProcess(pipeline, { rate: 20, args: ['--set-quota'] });
    await waitFor(
      "the fleet's quota to change",
      30_000,
      async () => (await statusJson(pipeline)).limiter.quota === 20,
    );
    expect(changer.child.exitCode).toBeNull();
    expect(await claimQuota(createRedisRateState(pipeline.redis, pipeline.account), 20)).toMatchObject({
      outcome: 'same',
    });
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  }, 150_000);

  it('--set-quota without a quota to set exits 2', async () => {
    p = await startPipeline();
    const w = startWorkerProcess(p, { env: { CAMS_RATE_LIMIT: '' }, args: ['--set-quota'] });
    expect((await w.exited).code).toBe(2);
    expect(w.stderr()).toContain('--set-quota needs');
  });

  it('with temporary credentials and no CAMS_ACCOUNT, worker exits 2 naming CAMS_ACCOUNT', async () => {
    p = await startPipeline();
    const w = startWorkerProcess(p, { env: { ALIBABA_CLOUD_SECURITY_TOKEN: 'a-temporary-token' } });
    expect((await w.exited).code).toBe(2);
    expect(w.stderr()).toContain('CAMS_ACCOUNT');
    expect(w.stderr()).not.toContain(p.accessKeyId);
  });
});
