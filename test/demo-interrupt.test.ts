/**
 * Ctrl-C during `demo`: its in-process workers stop, its own queue is emptied, its database is
 * dropped, and it says what its run had left, on a database and a queue of this file's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/commands/context.js';
import { demoCommand } from '../src/commands/demo.js';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { createEnrichQueue } from '../src/queue/queue.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  redisUrl,
  testQueueName,
  testRedis,
} from './helpers/services.js';
import type { TestDatabase } from './helpers/services.js';

let db: TestDatabase;
const queueName = testQueueName();

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  const redis = testRedis();
  await deleteQueueKeys(redis, `${queueName}-demo`);
  await redis.quit();
  await db.drop();
});

describe('demo interrupted', () => {
  it('stops its workers, removes its queue jobs, drops its database and says what its run had left', async () => {
    const controller = new AbortController();
    const err: string[] = [];
    const out: string[] = [];
    const ctx: CommandContext = {
      config: loadConfig({
        DATABASE_URL: db.url,
        REDIS_URL: redisUrl(),
        CAMS_QUEUE: queueName,
        CAMS_RATE_LIMIT: '5',
        LOG_LEVEL: 'silent',
      }),
      log: createLogger({ level: 'silent' }),
      out: (l) => out.push(l),
      err: (l) => {
        err.push(l);
        // Ctrl-C as soon as the sample is imported and queued.
        if (l.startsWith('imported ')) controller.abort();
      },
      signal: controller.signal,
    };
    expect(await demoCommand({ workers: 2 }, ctx)).toBe(1);

    const log = createLogger({ level: 'silent' });
    const pool = createPool(db.url, log, { max: 1 });
    const redis = testRedis();
    const queue = createEnrichQueue(`${queueName}-demo`, redis);
    try {
      const runId = Number(/as run (\d+)/.exec(err.join('\n'))?.[1]);
      const counts = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'waiting-children',
      );
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
      const said = err.find((l) => l.startsWith('interrupted: '));
      const m = new RegExp(
        `^interrupted: stopped 2 demo worker\\(s\\) and removed \\d+ job\\(s\\) from queue ${queueName}-demo\\. ` +
          `Run ${runId} had (\\d+) of 201 numbers pending \\(enriched \\d+, failed \\d+\\); ` +
          `its database (cams_enrich_demo_${process.pid}_[0-9a-f]{8}) is dropped\\. "cams-enrich demo" starts a new one\\.$`,
      ).exec(said ?? '');
      expect(m, said).not.toBeNull();
      expect(Number(m?.[1])).toBeGreaterThan(0);
      // The summary is taken when the wait stops; calls in flight may still settle while the workers close.
      expect(err).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^run ${runId} stopped: enriched \\d+, failed \\d+, skipped 0, duplicate \\d+, invalid \\d+, pending \\d+$`,
          ),
        ),
      );
      expect(out).toEqual([]);
      // Its database is gone: nothing of the demo is left on the server.
      const { rows } = await pool.query('SELECT datname FROM pg_database WHERE datname = $1', [m?.[2]]);
      expect(rows).toEqual([]);
    } finally {
      await queue.close();
      await redis.quit();
      await pool.end();
    }
  });
});
