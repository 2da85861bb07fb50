/**
 * Two queues (two accounts, say) sharing one database: each queue's workers take only their own
 * queue's runs, and the other queue's run waits, untouched, for its own workers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalStack } from '../workers/local-stack.js';
import { startLocalStack } from '../workers/local-stack.js';
import { unfinishedJobs } from '../src/queue/queue.js';
import { runStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { deleteQueueKeys, testQueueName, testRedis, testStoreConfig } from './helpers/services.js';
import { queueStoreOpener } from '../src/connections.js';

let a: Pipeline | undefined;
let b: LocalStack | undefined;
let bQueue: string | undefined;

afterEach(async () => {
  await b?.close({ force: true, discardQueue: true });
  if (bQueue) {
    const redis = testRedis();
    await deleteQueueKeys(redis, bQueue);
    await redis.quit();
  }
  await a?.close();
  a = b = bQueue = undefined;
});

describe('two queues sharing one database', () => {
  it("lets each queue's workers finish their own runs and leave the other queue's alone", async () => {
    a = await startPipeline({ rate: 50 });
    bQueue = testQueueName();
    b = await startLocalStack({
      pool: a.pool,
      log: a.log,
      openStore: queueStoreOpener(testStoreConfig('redis', a.db.url), a.log, a.pool),
      queueName: bQueue,
      rate: 50,
    });

    const runA = await a.importFile(
      await a.csv('a.csv', 'phone\n8613800000011\n8613800000012\n8613800000013\n'),
    );
    const runB = await a.importFile(await a.csv('b.csv', 'phone\n8613900000021\n8613900000022\n'), {
      queue: bQueue,
    });
    await b.feed();
    expect(await unfinishedJobs(b.queue)).toBe(2);

    a.startWorkers(1);
    expect(await a.waitFinished(runA)).toMatchObject({ enriched: 3, pending: 0 });
    expect(await runStatus(a.pool, runB)).toMatchObject({ enriched: 0, pending: 2 });
    expect(await unfinishedJobs(b.queue)).toBe(2);
    expect(b.sim.counters().calls).toBe(0);

    b.startWorkers(1);
    expect(await a.waitFinished(runB)).toMatchObject({ enriched: 2, pending: 0 });
    expect(Object.keys(a.sim.counters().okByNumber).sort()).toEqual([
      '8613800000011',
      '8613800000012',
      '8613800000013',
    ]);
    expect(Object.keys(b.sim.counters().okByNumber).sort()).toEqual(['8613900000021', '8613900000022']);
  });
});
