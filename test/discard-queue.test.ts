import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { startMetricsPublisher } from '../src/metrics/fleet-metrics.js';
import { discardQueue } from '../src/queue/discard.js';
import { createEnrichQueue } from '../src/queue/queue.js';
import { recordQueueAccount } from '../src/queue/queue-account.js';
import { accountRateKey, createRateController, forgetAccount } from '../src/queue/rate-controller.js';
import { deleteQueueKeys, testQueueName, testRedis } from './helpers/services.js';

const log = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function keysOf(redis: ReturnType<typeof testRedis>, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>)
    found.push(...batch);
  return found.sort();
}

describe('discardQueue', () => {
  it("leaves no key under the queue's prefix (jobs, its account, live and retired metrics) and keeps the account's controller", async () => {
    const redis = testRedis();
    const name = testQueueName();
    const other = testQueueName();
    cleanups.push(() => redis.quit());
    cleanups.push(() => deleteQueueKeys(redis, other));
    cleanups.push(() => deleteQueueKeys(redis, name));
    const queue = createEnrichQueue(name, redis);
    cleanups.push(() => queue.close());
    await queue.add('enrich', { custSpaceId: 'S1', phoneNumber: '8613800000001' });
    const account = `test-${name}`;
    cleanups.push(() => forgetAccount(redis, account));
    await recordQueueAccount(redis, queue, account);
    await createRateController({ redis, key: accountRateKey(account), quota: 10 }).acquire();
    const otherQueue = createEnrichQueue(other, redis);
    cleanups.push(() => otherQueue.close());
    await recordQueueAccount(redis, otherQueue, account);
    // One worker's metrics retired, another's still live.
    const keyBase = queue.toKey('cams-metrics');
    const retired = startMetricsPublisher({ redis, keyBase, registry: new Registry(), log });
    await retired.close();
    // No periodic publish during the test: its snapshot is the one written now.
    const live = startMetricsPublisher({
      redis,
      keyBase,
      registry: new Registry(),
      log,
      intervalMs: 3_600_000,
    });
    cleanups.push(() => live.close());
    await live.publish();
    const before = await keysOf(redis, `bull:${name}:`);
    expect(before).toEqual(
      expect.arrayContaining([`bull:${name}:cams-account`, `${keyBase}:retired`, `${keyBase}:p:${live.id}`]),
    );

    await discardQueue(queue, redis);

    expect(await keysOf(redis, `bull:${name}:`)).toEqual([]);
    // Another queue's keys are left alone.
    expect(await keysOf(redis, `bull:${other}:`)).toContain(`bull:${other}:cams-account`);
    // The account's controller is every queue's of the account: it stays.
    expect(await redis.exists(accountRateKey(account))).toBe(1);
  });
});
