/**
 * The ledger through a real PgBouncer in transaction pooling mode (the Redis queue as usual): no
 * startup options, the import's staging table inside its transaction, no session lock left on a pooled
 * server connection, no prepared statement outliving its transaction.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { runStatus } from '../src/runs/status.js';
import { scheduleQueueName } from '../src/schedules/schedules.js';
import type { PgBouncer } from './helpers/pgbouncer.js';
import { startPgBouncer } from './helpers/pgbouncer.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import {
  assertBuilt,
  killAll,
  pipelineEnv,
  startCli,
  startWorkerProcess,
  waitFor,
} from './helpers/processes.js';
import type { TestDatabase } from './helpers/services.js';
import { createTestDatabase, deleteQueueKeys } from './helpers/services.js';

let bouncer: PgBouncer | undefined;
let p: Pipeline | undefined;
let db: TestDatabase | undefined;
let pool: Pool | undefined;
let reference: TestDatabase | undefined;

beforeAll(async () => {
  assertBuilt();
  bouncer = await startPgBouncer();
}, 30_000);

afterAll(async () => {
  await bouncer?.stop();
});

afterEach(async () => {
  await killAll();
  if (p) await deleteQueueKeys(p.redis, scheduleQueueName(p.queueName));
  await p?.close();
  p = undefined;
  await pool?.end();
  pool = undefined;
  await db?.drop();
  db = undefined;
  await reference?.drop();
  reference = undefined;
});

/** Runs one CLI command to its end (output drained). */
async function runCli(args: string[], env: NodeJS.ProcessEnv) {
  const cli = startCli(args, env);
  const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** Tables, and indexes with their validity, of the ledger's schema and public. */
async function schemaOf(db: Pool): Promise<{ tables: string[]; indexes: string[] }> {
  const { rows: tables } = await db.query<{ t: string }>(
    `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
     WHERE table_schema IN ('cams_enrich', 'public') ORDER BY 1`,
  );
  const { rows: indexes } = await db.query<{ i: string }>(
    `SELECT n.nspname || '.' || c.relname || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END AS i
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('cams_enrich', 'public') ORDER BY 1`,
  );
  return { tables: tables.map((r) => r.t), indexes: indexes.map((r) => r.i) };
}

function numbers(count: number, start: number): string[] {
  return Array.from({ length: count }, (_, i) => `86139${String(10_000_000 + start + i).slice(-8)}`);
}

describe('PgBouncer in transaction pooling mode', () => {
  it('lets 12 migrate processes start at once on a fresh database: all finish, the schema is whole', async () => {
    db = await createTestDatabase();
    const env = { ...process.env, DATABASE_URL: bouncer!.url(db.url), LOG_LEVEL: 'warn' };
    const runs = await Promise.all(Array.from({ length: 12 }, () => runCli(['migrate'], env)));
    expect(
      runs.map((r) => r.code),
      runs.map((r) => r.stderr).join('\n') + bouncer!.log(),
    ).toEqual(Array.from({ length: 12 }, () => 0));
    // The same schema as one migrate straight to PostgreSQL makes, every index valid, each migration once.
    const log = createLogger({ level: 'silent' });
    pool = createPool(db.url, log, { max: 2 });
    reference = await createTestDatabase();
    const referencePool = createPool(reference.url, log, { max: 2 });
    try {
      await migrate(referencePool, log);
      expect(await schemaOf(pool)).toEqual(await schemaOf(referencePool));
    } finally {
      await referencePool.end();
    }
    const { rows: recorded } = await pool.query<{ id: number }>(
      'SELECT id FROM cams_enrich.cams_enrich_migrations ORDER BY id',
    );
    expect(recorded.map((r) => r.id)).toEqual((await loadMigrations()).map((m) => m.id));
    // Nothing left locked on a pooled server connection.
    const { rows: locks } = await pool.query(
      `SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
       WHERE l.locktype = 'advisory' AND d.datname = current_database()`,
    );
    expect(locks).toEqual([]);
  }, 120_000);

  it('runs an import, enqueue-db, a schedule tick and two workers through it: 300 numbers enriched, each called once', async () => {
    p = await startPipeline({ rate: 50 });
    const pipeline = p;
    const env = pipelineEnv(p, { DATABASE_URL: bouncer!.url(p.db.url), CAMS_RATE_LIMIT: '50' });
    const csv = numbers(150, 0);
    const table = numbers(100, 1000);
    const scheduled = numbers(50, 2000);
    await p.pool.query('CREATE TABLE public.contacts (phone text)');
    await p.pool.query('CREATE TABLE public.nightly (phone text)');
    await p.pool.query('INSERT INTO public.contacts SELECT unnest($1::text[])', [table]);
    await p.pool.query('INSERT INTO public.nightly SELECT unnest($1::text[])', [scheduled]);

    const workers = [
      startWorkerProcess(p, { rate: 50, env: { DATABASE_URL: env.DATABASE_URL } }),
      startWorkerProcess(p, { rate: 50, env: { DATABASE_URL: env.DATABASE_URL } }),
    ];
    const file = await p.csv('numbers.csv', ['phone', ...csv.map((n) => `+${n}`)].join('\n') + '\n');
    const imported = await runCli(['import', file, '--space', 'S1', '--json'], env);
    expect(imported.code, imported.stderr).toBe(0);
    const fromDb = await runCli(
      ['enqueue-db', '--table', 'contacts', '--phone-column', 'phone', '--space', 'S1', '--json'],
      env,
    );
    expect(fromDb.code, fromDb.stderr).toBe(0);
    const added = await runCli(
      [
        'schedule',
        'add',
        'nightly',
        '--cron',
        '*/2 * * * * *',
        '--',
        'enqueue-db',
        '--table',
        'nightly',
        '--phone-column',
        'phone',
        '--space',
        'S1',
      ],
      env,
    );
    expect(added.code, added.stderr).toBe(0);
    const tickRun = await waitFor('a tick to start its run', 60_000, async () => {
      const { rows } = await pipeline.pool.query<{ run_id: string }>(
        `SELECT run_id FROM schedule_ticks WHERE schedule = 'nightly' AND outcome = 'started' ORDER BY id LIMIT 1`,
      );
      return rows[0] ? Number(rows[0].run_id) : undefined;
    });
    expect((await runCli(['schedule', 'remove', 'nightly'], env)).code).toBe(0);

    const runIds = [
      (JSON.parse(imported.stdout) as { run: number }).run,
      (JSON.parse(fromDb.stdout) as { run: number }).run,
      tickRun,
    ];
    const finished = await Promise.all(runIds.map((id) => pipeline.waitFinished(id, 90_000)));
    expect(finished.map((s) => [s.total, s.enriched, s.failed, s.pending])).toEqual([
      [150, 150, 0, 0],
      [100, 100, 0, 0],
      [50, 50, 0, 0],
    ]);
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
    const byNumber = p.sim.counters().okByNumber;
    expect(Object.keys(byNumber).sort()).toEqual([...csv, ...table, ...scheduled].sort());
    expect(Object.values(byNumber).every((n) => n === 1)).toBe(true);
    expect((await runStatus(p.pool, runIds[0]!)).state).toBe('ready');
  }, 180_000);
});
