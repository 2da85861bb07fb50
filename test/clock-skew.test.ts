/**
 * A worker whose clock is off: it stops itself (at start, against the Redis server's clock; or when
 * CAMS refuses its request time), its numbers go back to the queue, the other workers finish the run
 * and the queue is never paused. The wrong clock is made with `now` / `CAMS_CLOCK_OFFSET_MS`, the
 * system clock is left alone.
 */
import { createRedisQueueStore } from '../src/queue/redis-queue-store.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEnrichWorker } from '../workers/worker.js';
import type { EnrichWorker } from '../workers/worker.js';
import { createCamsClient } from '../src/cams/cams-client.js';
import type { CamsError } from '../src/cams/cams-error.js';
import { Secret } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { clockSkewMs, clockSkewProblem } from '../src/queue/clock-check.js';
import { createRedis } from '../src/queue/queue.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, startWorkerProcess, waitFor } from './helpers/processes.js';
import { redisUrl } from './helpers/services.js';

const TWENTY_MINUTES = 20 * 60_000;
let p: Pipeline | undefined;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  for (const close of closers.splice(0).reverse()) await close();
  await p?.close();
  p = undefined;
});

async function importNumbers(pipeline: Pipeline, count: number): Promise<number> {
  const numbers = Array.from({ length: count }, (_, i) => `4479${String(40_000_000 + i * 37).slice(-8)}`);
  return pipeline.importFile(await pipeline.csv('n.csv', 'phone\n' + numbers.join('\n') + '\n'));
}

describe('a worker whose clock is off', () => {
  it('measures its clock against the Redis server and refuses more than 5 minutes either way', async () => {
    const redis = createRedis(redisUrl(), 'producer', createLogger({ level: 'silent' }));
    closers.push(async () => redis.disconnect());
    await redis.connect();
    expect(Math.abs(await clockSkewMs(createRedisQueueStore(redis, redisUrl())))).toBeLessThan(60_000);
    const ahead = await clockSkewMs(
      createRedisQueueStore(redis, redisUrl()),
      () => Date.now() + TWENTY_MINUTES,
    );
    expect(clockSkewProblem(ahead)?.message).toMatch(/ahead of the Redis server's/);
    const behind = await clockSkewMs(
      createRedisQueueStore(redis, redisUrl()),
      () => Date.now() - TWENTY_MINUTES,
    );
    expect(clockSkewProblem(behind)?.message).toMatch(/behind the Redis server's/);
    expect(clockSkewProblem(0)).toBeUndefined();
  });

  it('stops itself at start with exit 1 and says why, making no call', async () => {
    p = await startPipeline();
    await importNumbers(p, 5);
    const w = startWorkerProcess(p, { env: { CAMS_CLOCK_OFFSET_MS: String(TWENTY_MINUTES) } });
    const exit = await w.exited;
    expect(exit.code, w.stderr()).toBe(1);
    expect(w.stderr()).toMatch(/clock is 1200 s ahead of the Redis server's/);
    expect(p.sim.counters().calls).toBe(0);
  });

  it('stops when CAMS refuses its request time; another worker finishes the run; the queue is never paused', async () => {
    p = await startPipeline({ rate: 50 });
    const pipeline = p;
    const runId = await importNumbers(pipeline, 30);
    // A worker whose CAMS requests carry a time 20 minutes ahead (past the Redis check: only CAMS sees it).
    const skewed = createCamsClient({
      credentials: {
        accessKeyId: pipeline.accessKeyId,
        accessKeySecret: new Secret(pipeline.accessKeySecret),
      },
      endpoint: pipeline.sim.endpoint,
      protocol: 'http',
      regionId: 'ap-southeast-1',
      connectTimeoutMs: 2000,
      readTimeoutMs: 3000,
      now: () => Date.now() + TWENTY_MINUTES,
    });
    const refusals: CamsError[] = [];
    const connection = createRedis(redisUrl(), 'worker', pipeline.log);
    closers.push(async () => connection.disconnect());
    const worker: EnrichWorker = startEnrichWorker({
      queueName: pipeline.queueName,
      account: pipeline.account,
      store: createRedisQueueStore(connection, redisUrl()),
      pool: pipeline.pool,
      cams: skewed,
      log: pipeline.log,
      ratePerSecond: 50,
      attempts: 6,
      backoffMs: 100,
      onClockOff: (err) => {
        refusals.push(err);
        // As the worker command does: stop taking jobs.
        void worker.close();
      },
    });
    closers.push(() => worker.close(true));
    await waitFor('CAMS to refuse the skewed worker', 30_000, () => refusals.length > 0);
    await worker.close();
    expect(refusals[0]!.code).toBe('InvalidTimeStamp.Expired');
    expect(refusals[0]!.scope).toBe('clock');

    pipeline.startWorkers(1);
    const s = await pipeline.waitFinished(runId, 60_000);
    expect(s).toMatchObject({ enriched: 30, failed: 0, pending: 0 });
    expect(await pipeline.queue.isPaused()).toBe(false);
    const alerts = await pipeline.pool.query('SELECT code FROM queue_alerts');
    expect(alerts.rows).toEqual([]);
    // Each number was answered once, by the worker with the right clock.
    expect(Object.values(pipeline.sim.counters().okByNumber).every((n) => n === 1)).toBe(true);
  });
});
