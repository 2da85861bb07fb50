/**
 * The ledger's periodic queries with millions of rows of other runs present, next to the same queries on
 * a ledger holding only the measured queue's own rows: the feeder's read of its next 1000 rows, a whole
 * feeder batch of 1000 (read, enqueue, mark queued), one page of the lost jobs check, and a run's
 * status. Half of the other rows belong to a ready run of another queue, half to a run of the same queue
 * that is still importing.
 */
import { feedPending } from '../src/db/ledger.js';
import { claimRowsToFeed } from '../src/db/sql/claim-rows-to-feed.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { queuedPendingNumbers } from '../src/db/sql/queued-pending-numbers.js';
import { createLogger } from '../src/log.js';
import { runStatus } from '../src/runs/status.js';
import type { Line } from './throughput-support.js';
import { benchDatabase, timed } from './throughput-support.js';

const QUEUE = 'bench-ledger';
const OWN_ROWS = 20_000;
const REPEAT = 5;

/** A ready run of `queue` with `rows` pending rows, the first `queued` of them handed to Redis an hour ago. */
async function addRun(
  pool: Pool,
  queue: string,
  state: string,
  rows: number,
  queued: number,
): Promise<number> {
  const { rows: r } = await pool.query<{ id: string }>(
    `INSERT INTO runs (queue, source, state, max_age, total, pending) VALUES ($1, 'bench', $2, '0', $3, $3)
     RETURNING id`,
    [queue, state, rows],
  );
  const runId = Number(r[0]!.id);
  await pool.query(
    `INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state, queued_at)
     SELECT $1, 'bench', (861300000000 + $1::bigint * 100000000 + g)::text, g, 'pending',
            CASE WHEN g <= $3 THEN now() - interval '1 hour' END
     FROM generate_series(1, $2::bigint) g`,
    [runId, rows, queued],
  );
  return runId;
}

interface LedgerTimes {
  feedReadMs: number;
  feedMs: number;
  lostJobsMs: number;
  statusMs: number;
}

/** Median of REPEAT runs of each query, in ms. */
async function measureQueries(pool: Pool, runId: number): Promise<LedgerTimes> {
  const median = async (fn: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < REPEAT; i++) times.push((await timed(fn)).seconds * 1000);
    return times.sort((a, b) => a - b)[Math.floor(REPEAT / 2)]!;
  };
  // The claim alone, in a transaction rolled back, so each repetition reads the same rows.
  const feedReadMs = await median(async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await claimRowsToFeed(client, { queue: QUEUE, limit: 1000, rotation: 0 });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
  const feedMs = await median(() =>
    feedPending(
      pool,
      QUEUE,
      () => Promise.resolve({ limit: 1000 }),
      () => Promise.resolve(),
      { holder: 'bench' },
    ),
  );
  const lostJobsMs = await median(() => queuedPendingNumbers(pool, QUEUE, 1000));
  const statusMs = await median(() => runStatus(pool, runId));
  return { feedReadMs, feedMs, lostJobsMs, statusMs };
}

async function ledgerWith(otherRows: number): Promise<LedgerTimes> {
  const log = createLogger({ level: 'silent' });
  const db = await benchDatabase(log);
  const pool = createPool(db.url, log, { max: 2 });
  try {
    if (otherRows > 0) {
      await addRun(pool, 'bench-other-queue', 'ready', Math.ceil(otherRows / 2), 0);
      await addRun(pool, QUEUE, 'importing', Math.floor(otherRows / 2), 0);
    }
    const runId = await addRun(pool, QUEUE, 'ready', OWN_ROWS, OWN_ROWS / 2);
    await pool.query('ANALYZE');
    return await measureQueries(pool, runId);
  } finally {
    await pool.end();
    await db.drop();
  }
}

export async function measureLedger(otherRows: number): Promise<Line[]> {
  const empty = await ledgerWith(0);
  const big = await ledgerWith(otherRows);
  const others = `${otherRows.toLocaleString('en-US')} rows of other runs`;
  const line = (figure: string, ms: number, ref: number): Line => ({
    figure: `${figure} with ${others}`,
    value: `${ms.toFixed(1)} ms`,
    reference: `no other rows: ${ref.toFixed(1)} ms`,
    ratio: `${(ms / ref).toFixed(1)}×`,
  });
  return [
    line("feeder's read of its next 1000 rows", big.feedReadMs, empty.feedReadMs),
    line('feeder batch of 1000 (read, enqueue, mark queued)', big.feedMs, empty.feedMs),
    line('lost jobs check, one page of 1000', big.lostJobsMs, empty.lostJobsMs),
    line("a run's status", big.statusMs, empty.statusMs),
  ];
}
