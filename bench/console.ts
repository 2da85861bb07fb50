/**
 * The console's runs list with 100 000 runs in the ledger: `GET /api/runs` through the dashboard's own
 * app (one page of 50: the queue's state, the runs' statuses, the matching count), unfiltered, on a far
 * page and with each filter. 95 000 runs are the queue's (finished, cancelled, aborted, a few running
 * with rows settled in the last minute), 5 000 another queue's. The reference is the same request on a
 * ledger holding only the running runs.
 */
import { loadConfig } from '../src/config.js';
import { createDashboard } from '../src/dashboard/server.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import type { EnrichJobData } from '../src/queue/queue.js';
import { queueStoreOpener } from '../src/connections.js';
import { benchDatabase } from './throughput-support.js';

const QUEUE = `bench-console-${process.pid}`;
const RUNS = 100_000;
const RUNNING = 20;
const REPEAT = 15;

const QUERIES: Array<[string, string]> = [
  ['newest page', ''],
  ['page 1000', 'page=1000'],
  ['state=running', 'state=running'],
  ['state=cancelled', 'state=cancelled'],
  ['source=schedule:nightly', 'source=schedule:nightly'],
  ['source=csv', 'source=csv'],
  ['space=space-7', 'space=space-7'],
  ['priority=high&state=finished', 'priority=high&state=finished'],
];

/** `count` closed runs of `queue`, of every source, space, priority and end. */
async function seedClosed(pool: Pool, queue: string, count: number): Promise<void> {
  await pool.query(
    `INSERT INTO runs (queue, source, state, priority, space, max_age, total, enriched, failed, cancelled, created_at, finished_at)
     SELECT $1,
            CASE i % 4 WHEN 0 THEN 'csv:file-' || (i % 100) || '.csv' WHEN 1 THEN 'db:crm.contacts' WHEN 2 THEN 'refresh'
                       ELSE 'schedule:nightly' END,
            CASE WHEN i % 13 = 0 THEN 'cancelled' WHEN i % 29 = 0 THEN 'aborted' ELSE 'ready' END,
            CASE WHEN i % 5 = 0 THEN 'high' WHEN i % 5 = 1 THEN 'low' ELSE 'normal' END,
            'space-' || (i % 50), interval '0', 100, 90, 5, 5,
            now() - make_interval(secs => ($2 - i) * 20), now() - make_interval(secs => ($2 - i) * 20 - 10)
     FROM generate_series(1, $2) AS i ORDER BY i`,
    [queue, count],
  );
}

/** `count` running runs of 1000 numbers, half of them settled over the last minute. */
async function seedRunning(pool: Pool, queue: string, count: number): Promise<void> {
  for (let r = 0; r < count; r++) {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO runs (queue, source, state, space, max_age, total, enriched, pending)
       VALUES ($1, 'csv:running.csv', 'ready', 'space-7', interval '0', 1000, 500, 500) RETURNING id`,
      [queue],
    );
    await pool.query(
      `INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state, updated_at)
       SELECT $1, 'space-7', (447900000000 + $1::bigint * 10000 + g)::text, g,
              CASE WHEN g <= 500 THEN 'enriched' ELSE 'pending' END, now() - make_interval(secs => g % 60)
       FROM generate_series(1, 1000) AS g`,
      [Number(rows[0]!.id)],
    );
  }
}

async function measure(url: string, label: string): Promise<Array<[string, number, number]>> {
  const log = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
  const config = loadConfig({ ...process.env, DATABASE_URL: url, CAMS_QUEUE: QUEUE });
  const pool = createPool(url, log, { max: 10 });
  const store = queueStoreOpener(config, log, pool)('producer');
  await store.ready();
  const queue = store.queue<EnrichJobData>(QUEUE);
  const dashboard = createDashboard({ config, pool, store, queue, log });
  const results: Array<[string, number, number]> = [];
  try {
    for (const [name, query] of QUERIES) {
      const times: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const started = performance.now();
        const res = await dashboard.app.request(`/api/runs?${query}`);
        const body = (await res.json()) as { runs: unknown[]; matching: number };
        if (res.status !== 200) throw new Error(`${label} ${name}: HTTP ${res.status}`);
        times.push(performance.now() - started);
        if (i === 0 && label !== 'reference' && body.runs.length === 0 && name !== 'page 1000')
          throw new Error(`${name}: no run`);
      }
      times.sort((a, b) => a - b);
      results.push([name, times[Math.floor(REPEAT / 2)]!, times[Math.floor(REPEAT * 0.95)]!]);
    }
  } finally {
    dashboard.close();
    await queue.close();
    await store.close();
    await pool.end();
  }
  return results;
}

export async function run(): Promise<void> {
  const log = createLogger({ level: 'silent' });
  const big = await benchDatabase(log);
  const small = await benchDatabase(log);
  try {
    const pool = createPool(big.url, log, { max: 2 });
    await seedClosed(pool, 'another-queue', 5_000);
    await seedClosed(pool, QUEUE, RUNS - 5_000 - RUNNING);
    await seedRunning(pool, QUEUE, RUNNING);
    await pool.query('ANALYZE runs');
    await pool.query('ANALYZE run_items');
    await pool.end();
    const smallPool = createPool(small.url, log, { max: 2 });
    await seedRunning(smallPool, QUEUE, RUNNING);
    await smallPool.query('ANALYZE runs');
    await smallPool.end();

    const withRuns = await measure(big.url, '100 000 runs');
    const reference = await measure(small.url, 'reference');
    console.log(`GET /api/runs, one page of 50, median and p95 of ${REPEAT} requests (ms):\n`);
    console.log(`| request | ${RUNS} runs: median | p95 | ${RUNNING} runs: median | p95 |`);
    console.log('| --- | --: | --: | --: | --: |');
    withRuns.forEach(([name, median, p95], i) => {
      const [, refMedian, refP95] = reference[i]!;
      console.log(
        `| ${name} | ${median.toFixed(1)} | ${p95.toFixed(1)} | ${refMedian.toFixed(1)} | ${refP95.toFixed(1)} |`,
      );
    });
  } finally {
    await big.drop();
    await small.drop();
  }
}
