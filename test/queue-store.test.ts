/**
 * The queue store's contract, run against both stores: Redis (the tests' server) and PostgreSQL
 * (BullMQ's PostgreSQL backend and the ledger's tables in a database of the test's own). Each store
 * carries jobs from a queue to a worker, says which jobs it still has, keeps the fleet's metrics and
 * heartbeats (a stopping process's counters kept), records the queue's account, reads its server's
 * clock and discards a queue with everything of it.
 */
import { Counter, Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queueStoreOpener } from '../src/connections.js';
import { migrate } from '../src/db/migrate.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import type { QueueStore } from '../src/queue/queue-store.js';
import type { TestDatabase } from './helpers/services.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  testQueueName,
  testRedis,
  testStoreConfig,
} from './helpers/services.js';
import { waitFor } from './helpers/processes.js';

const log = createLogger({ level: 'silent' });
let db: TestDatabase;
let pool: Pool;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  pool = createPool(db.url, log, { max: 8 });
  await migrate(pool, log);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const counterValue = async (registry: Registry, name: string) =>
  (await registry.getSingleMetric(name)?.get())?.values[0]?.value;

describe.each(['redis', 'postgres'] as const)('the %s queue store', (kind) => {
  /** A store of its own, as a process would have, closed after the test; its queues cleaned too. */
  async function openStore(role: 'worker' | 'producer' = 'producer'): Promise<QueueStore> {
    const store = queueStoreOpener(testStoreConfig(kind, db.url), log, pool)(role, 6);
    cleanups.push(() => store.close());
    await store.ready();
    return store;
  }
  function queueName(): string {
    const name = testQueueName();
    if (kind === 'redis') {
      cleanups.push(async () => {
        const redis = testRedis();
        await deleteQueueKeys(redis, name);
        await redis.quit();
      });
    }
    return name;
  }

  it('carries a job from a queue to a worker, and says which jobs it still has', async () => {
    const store = await openStore();
    const workerStore = await openStore('worker');
    const name = queueName();
    const queue = store.queue<{ n: number }>(name);
    cleanups.push(() => queue.close());
    await queue.add('job', { n: 7 }, { jobId: 'kept', delay: 60_000 });
    await queue.add('job', { n: 1 }, { jobId: 'done', removeOnComplete: true });
    const seen: number[] = [];
    const worker = workerStore.worker<{ n: number }>(
      name,
      async (job) => {
        seen.push(job.data.n);
      },
      { concurrency: 1 },
    );
    cleanups.push(() => worker.close());
    await waitFor('the worker to take the job', 20_000, () => seen.includes(1));
    await waitFor('the finished job to be removed', 10_000, async () => {
      const [kept, done, never] = await store.jobsExist(queue, ['kept', 'done', 'never']);
      return kept === true && done === false && never === false;
    });
    expect(seen).toEqual([1]);
    expect(await store.jobsExist(queue, [])).toEqual([]);
  });

  it("keeps the fleet's metrics: live processes counted and summed, a stopped one's counters kept", async () => {
    const store = await openStore();
    const name = queueName();
    const queue = store.queue(name);
    cleanups.push(() => queue.close());
    const publishers = [1, 2].map((n) => {
      const registry = new Registry();
      new Counter({ name: 'cams_test_total', help: 'a test counter', registers: [registry] }).inc(n);
      const publisher = store.startMetricsPublisher({ queue, registry, log, intervalMs: 60_000 });
      cleanups.push(() => publisher.close());
      return publisher;
    });
    await Promise.all(publishers.map((p) => p.publish()));
    expect(await store.countLiveProcesses(queue)).toBe(2);
    const both = await store.readFleetMetrics(queue);
    expect(both.processes).toBe(2);
    expect(await counterValue(both.registry, 'cams_test_total')).toBe(3);
    const each = await store.readProcessSnapshots(queue);
    expect(each.map((p) => p.id).sort()).toEqual(publishers.map((p) => p.id).sort());
    expect(each.every((p) => p.pid === process.pid && p.metrics.length > 0)).toBe(true);

    await publishers[0]!.close();
    expect(await store.countLiveProcesses(queue)).toBe(1);
    const after = await store.readFleetMetrics(queue);
    expect(after.processes).toBe(1);
    expect(await counterValue(after.registry, 'cams_test_total')).toBe(3);
  });

  it('drops a process whose heartbeat lapsed (killed without a goodbye)', async () => {
    const store = await openStore();
    const queue = store.queue(queueName());
    cleanups.push(() => queue.close());
    const registry = new Registry();
    const publisher = store.startMetricsPublisher({ queue, registry, log, intervalMs: 60_000, ttlMs: 300 });
    cleanups.push(() => publisher.close());
    await publisher.publish();
    expect(await store.countLiveProcesses(queue)).toBe(1);
    await waitFor(
      'the heartbeat to lapse',
      10_000,
      async () => (await store.countLiveProcesses(queue)) === 0,
    );
    expect((await store.readFleetMetrics(queue)).processes).toBe(0);
  });

  it("records the queue's account and reads its server's clock", async () => {
    const store = await openStore();
    const queue = store.queue(queueName());
    cleanups.push(() => queue.close());
    expect(await store.queueAccount(queue)).toBeUndefined();
    await store.recordQueueAccount(queue, 'acct-1');
    await store.recordQueueAccount(queue, 'acct-2');
    expect(await store.queueAccount(queue)).toBe('acct-2');
    expect(Math.abs((await store.timeMs()) - Date.now())).toBeLessThan(60_000);
    expect(store.rateState('acct-2').kind).toBe(kind);
  });

  it("keeps a schedules' queue's disabled schedules by name", async () => {
    const store = await openStore();
    const queue = store.queue(queueName());
    cleanups.push(() => queue.close());
    const disabled = store.disabledSchedules(queue);
    expect(await disabled.all()).toEqual({});
    await disabled.set('nightly', '{"cron":"0 2 * * *"}');
    await disabled.set('hourly', '{"cron":"0 * * * *"}');
    await disabled.set('nightly', '{"cron":"0 3 * * *"}');
    expect(await disabled.get('nightly')).toBe('{"cron":"0 3 * * *"}');
    expect(await disabled.get('weekly')).toBeUndefined();
    expect(await disabled.all()).toEqual({ hourly: '{"cron":"0 * * * *"}', nightly: '{"cron":"0 3 * * *"}' });
    expect(await disabled.remove('hourly')).toBe(true);
    expect(await disabled.remove('hourly')).toBe(false);
    expect(Object.keys(await disabled.all())).toEqual(['nightly']);
  });

  it('discards a queue: its jobs, its metrics and its account, leaving other queues alone', async () => {
    const store = await openStore();
    const [name, other] = [queueName(), queueName()];
    const queue = store.queue<{ n: number }>(name);
    const otherQueue = store.queue<{ n: number }>(other);
    cleanups.push(
      () => queue.close(),
      () => otherQueue.close(),
    );
    for (const q of [queue, otherQueue]) {
      await q.add('job', { n: 1 }, { jobId: 'a' });
      await store.recordQueueAccount(q, 'acct');
      const publisher = store.startMetricsPublisher({
        queue: q,
        registry: new Registry(),
        log,
        intervalMs: 60_000,
      });
      await publisher.publish();
      cleanups.push(() => publisher.close());
    }
    await store.discardQueue(queue);
    expect(await store.jobsExist(queue, ['a'])).toEqual([false]);
    expect(await store.queueAccount(queue)).toBeUndefined();
    expect(await store.countLiveProcesses(queue)).toBe(0);
    expect(await store.jobsExist(otherQueue, ['a'])).toEqual([true]);
    expect(await store.queueAccount(otherQueue)).toBe('acct');
    expect(await store.countLiveProcesses(otherQueue)).toBe(1);
  });
});
