/**
 * Each queue sees only itself: two queues on Redis databases 1 and 2 of one server, sharing one
 * ledger, each count their own workers (from the fleet's heartbeats, not the server-wide client list,
 * which also holds a worker of the same queue name on the other database) and list their own runs.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import type { LocalStack } from '../workers/local-stack.js';
import { startLocalStack } from '../workers/local-stack.js';
import { createLogger } from '../src/log.js';
import { importCsv } from '../src/runs/csv-import.js';
import { allRunStatuses, queueStatus } from '../src/runs/status.js';
import { waitFor } from './helpers/processes.js';
import type { TestDatabase } from './helpers/services.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  redisUrl,
  testQueueName,
  testStoreConfig,
} from './helpers/services.js';
import { queueStoreOpener } from '../src/connections.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const log = createLogger({ level: 'silent' });
let db: TestDatabase;
let pool: Pool;
let dir: string;
const stacks: LocalStack[] = [];
const used: Array<{ url: string; queue: string }> = [];

function onDatabase(index: number): string {
  const url = new URL(redisUrl());
  url.pathname = `/${index}`;
  return url.toString();
}

async function stack(index: number, queueName: string, workers: number): Promise<LocalStack> {
  const url = onDatabase(index);
  used.push({ url, queue: queueName });
  const s = await startLocalStack({
    pool,
    log,
    openStore: queueStoreOpener({ ...testStoreConfig('redis', ''), redisUrl: url }, log, pool),
    queueName,
    rate: 50,
  });
  stacks.push(s);
  s.startWorkers(workers);
  return s;
}

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  pool = createPool(db.url, log, { max: 12 });
  await migrate(pool, log);
  dir = await mkdtemp(join(tmpdir(), 'cams-enrich-views-'));
});

afterAll(async () => {
  for (const s of stacks.reverse()) await s.close({ force: true, discardQueue: true });
  for (const { url, queue } of used) {
    const redis = new Redis(url);
    await deleteQueueKeys(redis, queue);
    await redis.quit();
  }
  await pool?.end();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('each queue sees only itself', () => {
  it('counts the workers of its own queue on its own Redis database and lists only its runs', async () => {
    const nameA = testQueueName();
    const nameB = testQueueName();
    const a = await stack(1, nameA, 2);
    const b = await stack(2, nameB, 2);
    // A worker of a queue named like a, on database 2: not one of a's.
    await stack(2, nameA, 1);

    const file = join(dir, 'one.csv');
    await writeFile(file, 'phone\n8613800000001\n');
    const runA = (await importCsv(pool, log, { file, queue: nameA, space: 'S1', maxAgeMs: 0 })).runId;
    const runB = (await importCsv(pool, log, { file, queue: nameB, space: 'S1', maxAgeMs: 0 })).runId;

    const workersOf = async (s: LocalStack) => (await queueStatus(pool, s.queue, s.store)).workers;
    await waitFor(
      'both fleets to report',
      30_000,
      async () => (await workersOf(a)) >= 2 && (await workersOf(b)) >= 2,
    );
    expect(await workersOf(a)).toBe(2);
    expect(await workersOf(b)).toBe(2);

    expect((await allRunStatuses(pool, nameA)).map((r) => r.run)).toEqual([runA]);
    expect((await allRunStatuses(pool, nameB)).map((r) => r.run)).toEqual([runB]);
  });
});
