import { PassThrough } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun } from '../src/db/runs.js';
import { createLogger } from '../src/log.js';
import { createEnrichQueue } from '../src/queue/queue.js';
import type { EnrichQueue } from '../src/queue/queue.js';
import { startRunWatch } from '../src/runs/run-watch.js';
import { useMigratedDatabase } from './helpers/database.js';
import { deleteQueueKeys, testQueueName, testRedis } from './helpers/services.js';

const t = useMigratedDatabase(createLogger({ level: 'silent' }));
let redis: Redis;
let queue: EnrichQueue;
const queueName = testQueueName();

beforeAll(() => {
  redis = testRedis();
  queue = createEnrichQueue(queueName, redis);
});
afterAll(async () => {
  await queue.close();
  await deleteQueueKeys(redis, queueName);
  redis.disconnect();
});

describe('a worker telling that a run finished', () => {
  it('tells a run finished by a transaction that began before a look and committed after it, once', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const log = createLogger({ level: 'info', format: 'json', destination: out });
    const runId = await createRun(t.pool, { queue: queueName, source: 'csv:watch.csv', maxAgeMs: 0 });
    const watch = startRunWatch({ db: t.pool, queue, log, intervalMs: 3_600_000 });
    const finishing = await t.pool.connect();
    try {
      // The run's finish time is this transaction's start, before the look below; the look cannot see
      // it until the transaction commits, after the look.
      await finishing.query('BEGIN');
      await finishing.query(
        "UPDATE runs SET state = 'ready', pending = 0, finished_at = now() WHERE id = $1",
        [runId],
      );
      await finishing.query('SELECT pg_sleep(0.05)');
      await watch.check();
      expect(text).not.toContain(`run ${runId} finished`);
      await finishing.query('COMMIT');
    } finally {
      finishing.release();
    }
    await watch.check();
    await watch.check();
    await watch.stop();
    expect(text.split(`"msg":"run ${runId} finished"`)).toHaveLength(2);
  });
});
