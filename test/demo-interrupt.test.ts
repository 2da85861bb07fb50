/**
 * Ctrl-C during `demo`: its in-process workers stop, its own queue is emptied, and it says what is
 * left, on a database and a queue of this file's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/commands/context.js';
import { demoCommand } from '../src/commands/demo.js';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { createEnrichQueue } from '../src/queue/queue.js';
import { runStatus } from '../src/runs/status.js';
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
  it('stops its workers, removes its queue jobs and says what is left', async () => {
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
      const left = await runStatus(pool, runId);
      expect(left.total).toBe(201);
      expect(left.pending).toBeGreaterThan(0);
      const counts = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'waiting-children',
      );
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
      const said = err.find((l) => l.startsWith('interrupted: '));
      expect(said).toMatch(
        new RegExp(
          `^interrupted: stopped 2 demo worker\\(s\\) and removed \\d+ job\\(s\\) from queue ${queueName}-demo\\. ` +
            `Run ${runId} is left in the database with ${left.pending} of 201 numbers pending `,
        ),
      );
      // The summary is taken when the wait stops; calls in flight may still settle while the workers close.
      expect(err).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^run ${runId} stopped: enriched \\d+, failed \\d+, skipped 0, duplicate ${left.duplicate}, invalid ${left.invalid}, pending \\d+$`,
          ),
        ),
      );
      expect(out).toEqual([]);
    } finally {
      await queue.close();
      await redis.quit();
      await pool.end();
    }
  });
});
