/**
 * The runs list's data with 100 000 runs in the ledger (written by SQL): each filter's page and count
 * are the runs the filter names, and the statements read through indexes, not a scan of every run and
 * not a sort of every match (the request's time is measured by `npm run bench -- console`).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createDashboard } from '../src/dashboard/server.js';
import { createLogger } from '../src/log.js';
import { createEnrichQueue } from '../src/queue/queue.js';
import { useMigratedDatabase } from './helpers/database.js';
import { deleteQueueKeys, redisUrl, testQueueName, testRedis } from './helpers/services.js';
import { createRedisQueueStore } from '../src/queue/redis-queue-store.js';

const log = createLogger({ level: 'silent' });
const ledger = useMigratedDatabase(log);
const RUNS = 100_000;

/** Run i (1-based): space `space-<i % 50>`, priority high when i % 5 = 0, cancelled when i % 13 = 0, and the last 10 running. */
async function seed(queue: string): Promise<number[]> {
  const { rows } = await ledger.pool.query<{ id: string }>(
    `INSERT INTO runs (queue, source, state, priority, space, max_age, total, enriched, pending, cancelled, created_at, finished_at)
     SELECT $1, CASE WHEN i % 2 = 0 THEN 'csv:in.csv' ELSE 'schedule:nightly' END,
            CASE WHEN i % 13 = 0 THEN 'cancelled' ELSE 'ready' END,
            CASE WHEN i % 5 = 0 THEN 'high' ELSE 'normal' END, 'space-' || (i % 50), interval '0', 10,
            CASE WHEN i % 13 = 0 THEN 0 WHEN i > $2 - 10 THEN 4 ELSE 10 END,
            CASE WHEN i % 13 <> 0 AND i > $2 - 10 THEN 6 ELSE 0 END,
            CASE WHEN i % 13 = 0 THEN 10 ELSE 0 END,
            now() - make_interval(secs => $2 - i),
            CASE WHEN i % 13 <> 0 AND i > $2 - 10 THEN NULL ELSE now() - make_interval(secs => $2 - i) END
     FROM generate_series(1, $2) AS i ORDER BY i RETURNING id`,
    [queue, RUNS],
  );
  await ledger.pool.query('ANALYZE runs');
  return rows.map((r) => Number(r.id));
}

async function plan(sql: string, params: unknown[]): Promise<string> {
  const { rows } = await ledger.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describe('the runs list over 100 000 runs', () => {
  it('answers each filter with its runs and count, through indexes', async () => {
    const queue = testQueueName();
    const ids = await seed(queue);
    const redis = testRedis();
    const enrichQueue = createEnrichQueue(queue, redis);
    const config = loadConfig({ DATABASE_URL: ledger.db.url, CAMS_QUEUE: queue });
    const store = createRedisQueueStore(redis, redisUrl());
    const dashboard = createDashboard({ config, pool: ledger.pool, store, queue: enrichQueue, log });
    try {
      const get = async (query: string) => {
        const res = await dashboard.app.request(`/api/runs?${query}`);
        expect(res.status, query).toBe(200);
        return (await res.json()) as { matching: number; runs: Array<{ run: number; phase: string }> };
      };
      const index = new Map(ids.map((id, i) => [id, i + 1]));
      const expectFilter = async (query: string, rule: (i: number) => boolean, page = 1) => {
        const want = [...ids].reverse().filter((id) => rule(index.get(id)!));
        const view = await get(`${query}&page=${page}`);
        expect(view.matching, query).toBe(want.length);
        expect(
          view.runs.map((r) => r.run),
          query,
        ).toEqual(want.slice((page - 1) * 50, page * 50));
      };
      const running = (i: number) => i % 13 !== 0 && i > RUNS - 10;
      await expectFilter('', () => true);
      await expectFilter('', () => true, 1000);
      await expectFilter('state=running', running);
      await expectFilter('state=finished', (i) => i % 13 !== 0 && !running(i), 3);
      await expectFilter('state=cancelled&priority=high', (i) => i % 13 === 0 && i % 5 === 0);
      await expectFilter('source=schedule', (i) => i % 2 === 1);
      await expectFilter('source=csv&space=space-7', (i) => i % 2 === 0 && i % 50 === 7);
      await expectFilter('space=space-8', (i) => i % 50 === 8, 2);
    } finally {
      dashboard.close();
      await deleteQueueKeys(redis, queue);
      await enrichQueue.close();
      redis.disconnect();
    }

    // The open runs, read by status and the ETAs on every refresh, through the index of open runs.
    const working = await plan(
      `SELECT id FROM runs WHERE queue = $1 AND state = 'ready' AND pending > 0 AND finished_at IS NULL ORDER BY id DESC`,
      [queue],
    );
    expect(working).toContain('runs_by_queue_finished');
    // A page of the newest runs walks an index in id order: no sort of every run.
    const page = await plan(
      `SELECT id FROM runs WHERE queue = $1 AND ($2::text IS NULL OR priority = $2) ORDER BY id DESC LIMIT 50 OFFSET 0`,
      [queue, null],
    );
    expect(page).toMatch(/Index Scan Backward using (runs_by_queue|runs_pkey)/);
    expect(page).not.toContain('Sort');
  });
});
