/**
 * `cams-enrich demo` end to end, in process: its own simulator, queue and workers (the local stack),
 * a real database and Redis, a small CSV in place of the bundled sample.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoCommand, DEMO_SPACE } from '../src/commands/demo.js';
import { loadConfig } from '../src/config.js';
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
  it('imports, enriches through its own simulator and workers, and prints the accounting and the stored rows', async () => {
    db = await createTestDatabase();
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

    const pool = createPool(db.url, createLogger({ level: 'silent' }), { max: 1 });
    try {
      const stored = await pool.query(
        'SELECT phone_number FROM business_profiles WHERE cust_space_id = $1 ORDER BY 1',
        [DEMO_SPACE],
      );
      expect(stored.rows).toEqual([{ phone_number: '8613800001234' }, { phone_number: '8613900001234' }]);
    } finally {
      await pool.end();
    }
  });
});
