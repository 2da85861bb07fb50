/**
 * `cams-enrich demo` end to end, in process: its own simulator, queue and workers (the local stack),
 * a real database and Redis, a small CSV in place of the bundled sample.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoCommand } from '../src/commands/demo.js';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  redisUrl,
  testQueueName,
  testRedis,
} from './helpers/services.js';
import type { TestDatabase } from './helpers/services.js';

let db: TestDatabase | undefined;
let dir: string | undefined;
let queueName: string | undefined;

afterEach(async () => {
  if (queueName) {
    const redis = testRedis();
    await deleteQueueKeys(redis, `${queueName}-demo`);
    await redis.quit();
  }
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
  db = dir = queueName = undefined;
});

describe('demo', () => {
  it('imports, enriches through its own simulator and workers in a database of its own, prints the accounting and the stored rows, and leaves nothing behind', async () => {
    db = await createTestDatabase();
    // A database of record, migrated, as the demo finds it on a real installation.
    const record = createPool(db.url, createLogger({ level: 'silent' }), { max: 2 });
    await migrate(record, createLogger({ level: 'silent' })).finally(() => record.end());
    dir = await mkdtemp(join(tmpdir(), 'cams-demo-test-'));
    queueName = testQueueName();
    const file = join(dir, 'sample.csv');
    await writeFile(
      file,
      'phone\n13800001234\n+86 139 0000 1234\nnot a number\n13800001234\n8613999999999\n',
    );
    const out: string[] = [];
    const code = await demoCommand(
      { workers: 2, file },
      {
        config: loadConfig({
          DATABASE_URL: db.url,
          REDIS_URL: redisUrl(),
          CAMS_QUEUE: queueName,
          CAMS_RATE_LIMIT: '50',
        }),
        log: createLogger({ level: 'silent' }),
        out: (line) => out.push(line),
        err: () => undefined,
        signal: new AbortController().signal,
      },
    );
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/run 1 finished: 5 rows read/);
    expect(text).toContain('enriched 2, failed 1, skipped 0, duplicate 1, invalid 1, pending 0');
    expect(text).toMatch(/failed numbers \(failed_numbers\):\n {4}8613\*+99 {2}Unknown\.ResourceOwnerId/);
    expect(text).not.toContain('8613999999999');

    // Shown from the demo's own database, while it existed.
    expect(text).toMatch(/a few stored profiles \(business_profiles\):\n {4}8613\*+34 /);
    expect(text).toMatch(/the demo's database cams_enrich_demo_\d+_[0-9a-f]{8} is dropped now/);

    // Nothing of it is left in the configured database, nor a database of its own on the server.
    const pool = createPool(db.url, createLogger({ level: 'silent' }), { max: 1 });
    try {
      const count = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]?.n);
      expect(await count('SELECT count(*) AS n FROM business_profiles')).toBe(0);
      expect(await count('SELECT count(*) AS n FROM runs')).toBe(0);
      expect(await count('SELECT count(*) AS n FROM run_items')).toBe(0);
      expect(await count('SELECT count(*) AS n FROM number_failures')).toBe(0);
      const { rows } = await pool.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname LIKE $1',
        [`cams_enrich_demo_${process.pid}_%`],
      );
      expect(rows).toEqual([]);
    } finally {
      await pool.end();
    }
    // Nor its queue's jobs in Redis.
    const redis = testRedis();
    try {
      expect(await redis.keys(`bull:${queueName}-demo*`)).toEqual([]);
    } finally {
      await redis.quit();
    }
  });
});
