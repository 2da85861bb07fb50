import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertMigrated, loadMigrations, migrate } from '../src/db/migrate.js';
import { splitStatements } from '../src/db/migration-file.js';
import { createPool } from '../src/db/pool.js';
import type { Pool } from '../src/db/pool.js';
import { AppError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { packageVersion } from '../src/package-root.js';
import { createTestDatabase } from './helpers/services.js';
import type { TestDatabase } from './helpers/services.js';

const log = createLogger({ level: 'silent' });

let databases: TestDatabase[] = [];
let pools: Pool[] = [];
let tempDirs: string[] = [];

afterEach(async () => {
  const closing = pools;
  pools = [];
  await Promise.all(closing.map((p) => p.end()));
  const dropping = databases;
  databases = [];
  await Promise.all(dropping.map((d) => d.drop()));
  const removing = tempDirs;
  tempDirs = [];
  await Promise.all(removing.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

function poolFor(db: TestDatabase): Pool {
  const pool = createPool(db.url, log, { max: 2 });
  pools.push(pool);
  return pool;
}

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cams-migrations-'));
  tempDirs.push(dir);
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

/** The tables of one schema: the ledger's (`cams_enrich`) unless told. */
async function tableNames(pool: Pool, schema = 'cams_enrich'): Promise<string[]> {
  const { rows } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [schema],
  );
  return rows.map((r) => r.table_name);
}

async function recorded(pool: Pool): Promise<{ id: number; name: string }[]> {
  const { rows } = await pool.query<{ id: number; name: string }>(
    'SELECT id, name FROM cams_enrich.cams_enrich_migrations ORDER BY id',
  );
  return rows;
}

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** The migrations in migrations/, in the order they must apply. */
const SHIPPED = [
  '0001_init.sql',
  '0002_number_failures.sql',
  '0003_retention.sql',
  '0004_schedule_ticks.sql',
  '0005_ledger_schema.sql',
  '0006_ledger_indexes.sql',
  '0007_schedule_ticks_queue.sql',
  '0008_run_items_run_check.sql',
  '0009_run_lines.sql',
  '0010_usage.sql',
  '0011_run_priority_and_cancel.sql',
  '0012_runs_console.sql',
  '0013_rate_state.sql',
  '0014_runs_open_index.sql',
  '0015_rate_state_unlogged.sql',
  '0016_audit_log.sql',
  '0017_run_throttles.sql',
  '0018_queue_store.sql',
  '0019_rate_waiting.sql',
];
const SHIPPED_RECORDS = SHIPPED.map((name, i) => ({ id: i + 1, name }));

describe('migrate', () => {
  it('applies every migration in order on a fresh database and creates business_profiles with the documented columns', async () => {
    const pool = poolFor(await freshDatabase());
    const result = await migrate(pool, log);
    expect(result.applied).toEqual(SHIPPED);
    expect(result.alreadyApplied).toEqual([]);
    expect(await recorded(pool)).toEqual(SHIPPED_RECORDS);

    const { rows } = await pool.query<{ column_name: string; data_type: string; udt_name: string }>(
      `SELECT column_name, data_type, udt_name FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = 'business_profiles' ORDER BY ordinal_position`,
    );
    const columns = Object.fromEntries(rows.map((r) => [r.column_name, `${r.data_type}/${r.udt_name}`]));
    expect(columns).toEqual({
      cust_space_id: 'text/text',
      phone_number: 'text/text',
      vertical: 'text/text',
      description: 'text/text',
      email: 'text/text',
      address: 'text/text',
      profile_picture_url: 'text/text',
      websites: 'ARRAY/_text',
      about: 'text/text',
      request_id: 'text/text',
      fetched_at: 'timestamp with time zone/timestamptz',
      raw: 'jsonb/jsonb',
    });

    const pk = await pool.query<{ column_name: string }>(
      `SELECT k.column_name
       FROM information_schema.table_constraints c
       JOIN information_schema.key_column_usage k
         ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema AND k.table_name = c.table_name
       WHERE c.table_schema = 'public' AND c.table_name = 'business_profiles' AND c.constraint_type = 'PRIMARY KEY'
       ORDER BY k.ordinal_position`,
    );
    expect(pk.rows.map((r) => r.column_name)).toEqual(['cust_space_id', 'phone_number']);
  });

  it('applies nothing and fails nothing the second time', async () => {
    const pool = poolFor(await freshDatabase());
    await migrate(pool, log);
    const tablesAfterFirst = await tableNames(pool);
    const second = await migrate(pool, log);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(SHIPPED);
    expect(await recorded(pool)).toHaveLength(SHIPPED.length);
    expect(await tableNames(pool)).toEqual(tablesAfterFirst);
  });

  it('lets two runners start at once on a fresh database: both succeed, the migration is applied once', async () => {
    const db = await freshDatabase();
    const a = poolFor(db);
    const b = poolFor(db);
    const [ra, rb] = await Promise.all([migrate(a, log), migrate(b, log)]);
    // One of them applied it, the other found it applied.
    expect([...ra.applied, ...rb.applied].sort()).toEqual(SHIPPED);
    expect([...ra.alreadyApplied, ...rb.alreadyApplied].sort()).toEqual(SHIPPED);
    expect(await recorded(a)).toEqual(SHIPPED_RECORDS);
    expect(await tableNames(a, 'public')).toEqual(['business_profiles']);
    expect(await tableNames(a)).toEqual([
      'audit_log',
      'cams_enrich_migrations',
      'disabled_schedules',
      'feed_leases',
      'fleet_processes',
      'fleet_retired',
      'number_failures',
      'queue_accounts',
      'queue_alerts',
      'queue_store',
      'rate_slots',
      'rate_state',
      'rate_throttles',
      'rate_waiting',
      'run_duplicates',
      'run_items',
      'run_rejects',
      'run_throttles',
      'runs',
      'schedule_ticks',
      'usage_counts',
    ]);
  });

  it('rolls a broken migration back whole, records nothing of it, and names its file', async () => {
    const pool = poolFor(await freshDatabase());
    const dir = await migrationsDir({
      '0001_first.sql': 'CREATE TABLE first_table (id integer PRIMARY KEY);',
      '0002_broken.sql': `CREATE TABLE partial_table (id integer PRIMARY KEY);
        INSERT INTO partial_table VALUES (1);
        SELECT no_such_column FROM partial_table;`,
      '0003_after.sql': 'CREATE TABLE after_table (id integer);',
    });
    const migrations = await loadMigrations(dir);
    expect(migrations.map((m) => [m.id, m.name])).toEqual([
      [1, '0001_first.sql'],
      [2, '0002_broken.sql'],
      [3, '0003_after.sql'],
    ]);

    const err = await catchError(migrate(pool, log, { migrations }));
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('MIGRATION_FAILED');
    expect((err as AppError).exitCode).toBe(1);
    expect((err as AppError).message).toContain('0002_broken.sql');

    const tables = await tableNames(pool);
    expect(tables).toContain('first_table');
    expect(tables).not.toContain('partial_table');
    expect(tables).not.toContain('after_table');
    expect(await recorded(pool)).toEqual([{ id: 1, name: '0001_first.sql' }]);

    // Fixed, it applies on the next run; the first one is not applied again.
    await writeFile(join(dir, '0002_broken.sql'), 'CREATE TABLE partial_table (id integer PRIMARY KEY);');
    const retry = await migrate(pool, log, { migrations: await loadMigrations(dir) });
    expect(retry.applied).toEqual(['0002_broken.sql', '0003_after.sql']);
    expect(retry.alreadyApplied).toEqual(['0001_first.sql']);
  });

  it('leaves the connection usable after a failure (the lock is released)', async () => {
    const pool = poolFor(await freshDatabase());
    const dir = await migrationsDir({ '0001_bad.sql': 'CREATE TABLE t (;' });
    await expect(migrate(pool, log, { migrations: await loadMigrations(dir) })).rejects.toMatchObject({
      code: 'MIGRATION_FAILED',
    });
    // A second runner would wait forever on a lock left behind.
    const other = poolFor(databases[0]!);
    const result = await migrate(other, log, { migrations: [] });
    expect(result).toEqual({ applied: [], alreadyApplied: [] });
    const locks = await other.query(`SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
       WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`);
    expect(locks.rowCount).toBe(0);
  });

  it('refuses a migration file that is not named NNNN_name.sql', async () => {
    const dir = await migrationsDir({ 'init.sql': 'SELECT 1;' });
    await expect(loadMigrations(dir)).rejects.toMatchObject({
      code: 'MIGRATION_FAILED',
      message: expect.stringContaining('init.sql'),
    });
  });
});

/** Whether the index exists in the ledger's schema, and is valid. */
async function indexState(pool: Pool, name: string): Promise<'valid' | 'invalid' | 'absent'> {
  const { rows } = await pool.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'cams_enrich' AND c.relname = $1`,
    [name],
  );
  if (!rows[0]) return 'absent';
  return rows[0].valid ? 'valid' : 'invalid';
}

describe('migrations outside a transaction', () => {
  const table = `CREATE TABLE t (id integer PRIMARY KEY, v integer);
    INSERT INTO t SELECT g, g FROM generate_series(1, 100) g;`;

  it('builds the shipped ledger indexes concurrently, valid', async () => {
    const pool = poolFor(await freshDatabase());
    const shipped = await loadMigrations();
    expect(shipped.find((m) => m.name === '0006_ledger_indexes.sql')?.sql.split('\n')[0]).toBe(
      '--! no-transaction',
    );
    await migrate(pool, log);
    expect(await indexState(pool, 'run_items_queued_pending')).toBe('valid');
    expect(await indexState(pool, 'runs_ready_by_queue')).toBe('valid');
  });

  it('runs a --! no-transaction migration statement by statement: CREATE INDEX CONCURRENTLY builds, and it is recorded after', async () => {
    const pool = poolFor(await freshDatabase());
    const dir = await migrationsDir({
      '0001_table.sql': table,
      '0002_index.sql': `--! no-transaction
        -- A comment; with a semicolon;
        CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON :LEDGER_SCHEMA.t (v);
        COMMENT ON INDEX :LEDGER_SCHEMA.t_v IS 'built; concurrently';`,
    });
    const result = await migrate(pool, log, { migrations: await loadMigrations(dir) });
    expect(result.applied).toEqual(['0001_table.sql', '0002_index.sql']);
    expect(await indexState(pool, 't_v')).toBe('valid');
    const { rows } = await pool.query<{ c: string }>(
      `SELECT obj_description('cams_enrich.t_v'::regclass, 'pg_class') AS c`,
    );
    expect(rows[0]?.c).toBe('built; concurrently');
    expect(await recorded(pool)).toEqual([
      { id: 1, name: '0001_table.sql' },
      { id: 2, name: '0002_index.sql' },
    ]);
    expect((await migrate(pool, log, { migrations: await loadMigrations(dir) })).applied).toEqual([]);
  });

  it('drops an INVALID index an interrupted concurrent build left, and builds it again', async () => {
    const pool = poolFor(await freshDatabase());
    const dir = await migrationsDir({ '0001_table.sql': table });
    await migrate(pool, log, { migrations: await loadMigrations(dir) });
    // A unique build over duplicates fails part-way and leaves its index INVALID, as an interrupted one does.
    // (On a client: pool.query runs every statement in a transaction.)
    await pool.query('UPDATE cams_enrich.t SET v = 1 WHERE id <= 2');
    const client = await pool.connect();
    try {
      await expect(
        client.query('CREATE UNIQUE INDEX CONCURRENTLY t_v ON cams_enrich.t (v)'),
      ).rejects.toMatchObject({ code: '23505' });
    } finally {
      client.release();
    }
    expect(await indexState(pool, 't_v')).toBe('invalid');
    await pool.query('UPDATE cams_enrich.t SET v = id');

    await writeFile(
      join(dir, '0002_index.sql'),
      '--! no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v ON :LEDGER_SCHEMA.t (v);\n',
    );
    const result = await migrate(pool, log, { migrations: await loadMigrations(dir) });
    expect(result.applied).toEqual(['0002_index.sql']);
    expect(await indexState(pool, 't_v')).toBe('valid');
    await expect(pool.query('UPDATE cams_enrich.t SET v = 1 WHERE id = 2')).rejects.toMatchObject({
      code: '23505',
    });
  });

  it('records nothing of one that fails part-way, and runs it whole again once fixed', async () => {
    const pool = poolFor(await freshDatabase());
    const dir = await migrationsDir({
      '0001_table.sql': table,
      '0002_index.sql': `--! no-transaction
        CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON :LEDGER_SCHEMA.t (v);
        CREATE INDEX CONCURRENTLY IF NOT EXISTS t_w ON :LEDGER_SCHEMA.t (no_such_column);`,
    });
    const err = await catchError(migrate(pool, log, { migrations: await loadMigrations(dir) }));
    expect(err).toMatchObject({ code: 'MIGRATION_FAILED' });
    expect((err as AppError).message).toContain('0002_index.sql');
    expect(await recorded(pool)).toEqual([{ id: 1, name: '0001_table.sql' }]);
    expect(await indexState(pool, 't_v')).toBe('valid');

    await writeFile(
      join(dir, '0002_index.sql'),
      `--! no-transaction
        CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON :LEDGER_SCHEMA.t (v);
        CREATE INDEX CONCURRENTLY IF NOT EXISTS t_w ON :LEDGER_SCHEMA.t (id, v);`,
    );
    expect((await migrate(pool, log, { migrations: await loadMigrations(dir) })).applied).toEqual([
      '0002_index.sql',
    ]);
    expect(await indexState(pool, 't_w')).toBe('valid');
  });

  it('lets two runners apply one at once: both succeed, it is recorded once', async () => {
    const db = await freshDatabase();
    const dir = await migrationsDir({
      '0001_table.sql': table,
      '0002_index.sql':
        '--! no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON :LEDGER_SCHEMA.t (v);',
    });
    const migrations = await loadMigrations(dir);
    const [a, b] = await Promise.all([
      migrate(poolFor(db), log, { migrations }),
      migrate(poolFor(db), log, { migrations }),
    ]);
    expect([...a.applied, ...b.applied].sort()).toEqual(['0001_table.sql', '0002_index.sql']);
    expect(await recorded(poolFor(db))).toEqual([
      { id: 1, name: '0001_table.sql' },
      { id: 2, name: '0002_index.sql' },
    ]);
  });

  it('refuses CREATE INDEX CONCURRENTLY without IF NOT EXISTS there, before running anything', async () => {
    const dir = await migrationsDir({
      '0001_index.sql': '--! no-transaction\nCREATE INDEX CONCURRENTLY t_v ON :LEDGER_SCHEMA.t (v);',
    });
    await expect(loadMigrations(dir)).rejects.toMatchObject({
      code: 'MIGRATION_FAILED',
      message: expect.stringContaining(
        '0001_index.sql: CREATE INDEX CONCURRENTLY t_v must say IF NOT EXISTS',
      ),
    });
  });

  it('splits statements at their semicolons only', () => {
    expect(
      splitStatements(`-- a; comment
        SELECT 'a;b', "c;d" FROM x; /* e; */ DO $$ BEGIN PERFORM 1; END $$;
        SELECT $t$;$t$ ;;`),
    ).toEqual([`SELECT 'a;b', "c;d" FROM x`, 'DO $$ BEGIN PERFORM 1; END $$', 'SELECT $t$;$t$']);
  });
});

/**
 * A database as the version before the ledger's own schema left it: 0001 and 0002 applied with only
 * `public` on the search_path, their record in public.cams_enrich_migrations, and some ledger data.
 */
async function migratedBeforeLedgerSchema(pool: Pool): Promise<void> {
  const [init, failures] = (await loadMigrations()).slice(0, 2);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL search_path TO public');
    await client.query(`CREATE TABLE cams_enrich_migrations (
      id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const m of [init!, failures!]) {
      await client.query(m.sql);
      await client.query('INSERT INTO cams_enrich_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
    }
    await client.query(`INSERT INTO runs (queue, source, max_age, total, enriched, failed)
      VALUES ('q', 'csv:old.csv', interval '30 days', 2, 1, 1)`);
    await client.query(`INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state, error_code, error_message)
      VALUES (1, 'S1', '8613800000001', 2, 'enriched', NULL, NULL),
             (1, 'S1', '8613800000002', 3, 'failed', 'Unknown.ResourceOwnerId', 'not this account')`);
    await client.query(
      `INSERT INTO run_rejects (run_id, line, raw, reason) VALUES (1, 4, 'abc', 'not a number')`,
    );
    await client.query(
      `INSERT INTO business_profiles (cust_space_id, phone_number, vertical) VALUES ('S1', '8613800000001', 'Retail')`,
    );
    await client.query(`INSERT INTO number_failures (cust_space_id, phone_number, error_code, error_message)
      VALUES ('S1', '8613800000002', 'Unknown.ResourceOwnerId', 'not this account')`);
    await client.query(
      `INSERT INTO queue_alerts (queue, code, message) VALUES ('q', 'Ram.PermissionDeny', 'denied')`,
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

describe('the ledger in its own schema', () => {
  it('moves the tables and their rows of a database migrated before out of public, keeping business_profiles and failed_numbers there', async () => {
    const pool = poolFor(await freshDatabase());
    await migratedBeforeLedgerSchema(pool);

    const result = await migrate(pool, log);
    expect(result).toEqual({ applied: SHIPPED.slice(2), alreadyApplied: SHIPPED.slice(0, 2) });
    expect(await recorded(pool)).toEqual(SHIPPED_RECORDS);
    expect(await tableNames(pool, 'public')).toEqual(['business_profiles']);
    expect(await tableNames(pool)).toEqual([
      'audit_log',
      'cams_enrich_migrations',
      'disabled_schedules',
      'feed_leases',
      'fleet_processes',
      'fleet_retired',
      'number_failures',
      'queue_accounts',
      'queue_alerts',
      'queue_store',
      'rate_slots',
      'rate_state',
      'rate_throttles',
      'rate_waiting',
      'run_duplicates',
      'run_items',
      'run_rejects',
      'run_throttles',
      'runs',
      'schedule_ticks',
      'usage_counts',
    ]);
    // The rows came along, the view still reads run_items, and the identity goes on where it was.
    const runs = await pool.query<{ id: string; total: string }>('SELECT id, total FROM cams_enrich.runs');
    expect(runs.rows).toEqual([{ id: '1', total: '2' }]);
    const items = await pool.query('SELECT phone_number, state FROM cams_enrich.run_items ORDER BY line');
    expect(items.rows).toEqual([
      { phone_number: '8613800000001', state: 'enriched' },
      { phone_number: '8613800000002', state: 'failed' },
    ]);
    const failed = await pool.query('SELECT phone_number, error_code FROM public.failed_numbers');
    expect(failed.rows).toEqual([{ phone_number: '8613800000002', error_code: 'Unknown.ResourceOwnerId' }]);
    expect((await pool.query('SELECT 1 FROM cams_enrich.run_rejects')).rowCount).toBe(1);
    expect((await pool.query('SELECT 1 FROM cams_enrich.number_failures')).rowCount).toBe(1);
    expect((await pool.query('SELECT 1 FROM cams_enrich.queue_alerts')).rowCount).toBe(1);
    expect((await pool.query('SELECT vertical FROM public.business_profiles')).rows).toEqual([
      { vertical: 'Retail' },
    ]);
    const next = await pool.query<{ id: string }>(
      `INSERT INTO runs (queue, source, max_age) VALUES ('q', 'csv:new.csv', interval '1 day') RETURNING id`,
    );
    expect(next.rows[0]?.id).toBe('2');
    // Once moved, nothing moves again.
    expect((await migrate(pool, log)).applied).toEqual([]);
  });

  it('puts the ledger in the schema it is given, quoted as an identifier', async () => {
    const db = await freshDatabase();
    const pool = createPool(db.url, log, { max: 2, schema: 'Crm_Ledger' });
    pools.push(pool);
    expect((await migrate(pool, log, { schema: 'Crm_Ledger' })).applied).toEqual(SHIPPED);
    expect(await tableNames(pool, 'Crm_Ledger')).toContain('runs');
    expect(await tableNames(pool, 'public')).toEqual(['business_profiles']);
    const run = await pool.query<{ id: string }>(
      `INSERT INTO runs (queue, source, max_age) VALUES ('q', 'csv:a.csv', interval '1 day') RETURNING id`,
    );
    expect(run.rows[0]?.id).toBe('1');
    await assertMigrated(pool, { schema: 'Crm_Ledger' });
    await expect(assertMigrated(pool)).rejects.toMatchObject({ code: 'SCHEMA_OUTDATED' });
  });
});

describe('the migration version check', () => {
  it('refuses a database migrated by a newer version, naming both versions, and changes nothing', async () => {
    const pool = poolFor(await freshDatabase());
    await migrate(pool, log);
    await pool.query(
      `INSERT INTO cams_enrich.cams_enrich_migrations (id, name, version) VALUES (9999, '9999_future.sql', '9.9.9')`,
    );
    const tables = await tableNames(pool);
    for (const attempt of [() => migrate(pool, log), () => assertMigrated(pool)]) {
      const err = await catchError(attempt());
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'SCHEMA_NEWER', exitCode: 1 });
      const message = (err as AppError).message;
      expect(message).toContain('cams-enrich 9.9.9 (up to 9999_future.sql)');
      expect(message).toContain(`this is cams-enrich ${packageVersion()}`);
      expect(message).toContain(`up to ${SHIPPED.at(-1)}`);
    }
    expect(await tableNames(pool)).toEqual(tables);

    // A version that knows the newer migration goes ahead.
    const future = { id: 9999, name: '9999_future.sql', sql: 'SELECT 1' };
    const result = await migrate(pool, log, { migrations: [...(await loadMigrations()), future] });
    expect(result.applied).toEqual([]);
  });

  it('refuses two migration files with one number', async () => {
    const dir = await migrationsDir({ '0001_a.sql': 'SELECT 1;', '0001_b.sql': 'SELECT 2;' });
    await expect(loadMigrations(dir)).rejects.toMatchObject({
      code: 'MIGRATION_FAILED',
      message: 'migration files 0001_a.sql and 0001_b.sql share a number',
    });
  });
});

describe('the runs_accounting constraint', () => {
  it('rejects an UPDATE that breaks total = invalid + duplicate + skipped + enriched + failed + pending', async () => {
    const pool = poolFor(await freshDatabase());
    await migrate(pool, log);
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO runs (queue, source, max_age, total, pending) VALUES ('q', 'csv:test.csv', interval '30 days', 3, 3) RETURNING id`,
    );
    const id = rows[0]!.id;

    // A consistent move of one number from pending to enriched is accepted.
    await pool.query('UPDATE runs SET pending = pending - 1, enriched = enriched + 1 WHERE id = $1', [id]);

    const err = await catchError(pool.query('UPDATE runs SET pending = pending - 1 WHERE id = $1', [id]));
    expect(err).toMatchObject({ code: '23514', constraint: 'runs_accounting' });

    const after = await pool.query<{ total: string; pending: string; enriched: string }>(
      'SELECT total, pending, enriched FROM runs WHERE id = $1',
      [id],
    );
    expect(after.rows[0]).toEqual({ total: '3', pending: '2', enriched: '1' });
  });
});

describe("run_items' link to runs", () => {
  async function ledgerWithRun(): Promise<{ pool: Pool; runId: string }> {
    const pool = poolFor(await freshDatabase());
    await migrate(pool, log);
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO runs (queue, source, max_age) VALUES ('q', 'csv:test.csv', interval '30 days') RETURNING id`,
    );
    return { pool, runId: rows[0]!.id };
  }

  const item = `INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state) VALUES ($1, 'S1', $2, 2, 'pending')`;

  it('refuses items of a run that does not exist, as a foreign key would, and keeps none of the statement', async () => {
    const { pool, runId } = await ledgerWithRun();
    const missing = String(Number(runId) + 1);
    const err = await catchError(
      pool.query(
        `INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state)
         VALUES ($1, 'S1', '8613800000001', 2, 'pending'), ($2, 'S1', '8613800000002', 3, 'pending')`,
        [runId, missing],
      ),
    );
    expect(err).toMatchObject({ code: '23503', constraint: 'run_items_run_id_fkey' });
    expect((err as { detail?: string }).detail).toBe(
      `Key (run_id)=(${missing}) is not present in table "runs".`,
    );
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM run_items');
    expect(rows[0]!.n).toBe(0);
  });

  it('deletes the items of deleted runs, and only theirs, from a session with the default search_path', async () => {
    const { pool, runId } = await ledgerWithRun();
    const { rows: other } = await pool.query<{ id: string }>(
      `INSERT INTO runs (queue, source, max_age) VALUES ('q', 'csv:other.csv', interval '30 days') RETURNING id`,
    );
    await pool.query(item, [runId, '8613800000001']);
    await pool.query(item, [runId, '8613800000002']);
    await pool.query(item, [other[0]!.id, '8613800000003']);
    // An admin's psql session: the ledger's schema is not on its search_path.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL search_path TO public');
      await client.query('DELETE FROM cams_enrich.runs WHERE id = $1', [runId]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const { rows } = await pool.query<{ run_id: string; phone_number: string }>(
      'SELECT run_id, phone_number FROM run_items ORDER BY phone_number',
    );
    expect(rows).toEqual([{ run_id: other[0]!.id, phone_number: '8613800000003' }]);
  });

  it('refuses to move an item to another run, but lets its other columns change', async () => {
    const { pool, runId } = await ledgerWithRun();
    await pool.query(item, [runId, '8613800000001']);
    const { rows: other } = await pool.query<{ id: string }>(
      `INSERT INTO runs (queue, source, max_age) VALUES ('q', 'csv:other.csv', interval '30 days') RETURNING id`,
    );
    const err = await catchError(pool.query('UPDATE run_items SET run_id = $1', [other[0]!.id]));
    expect(err).toMatchObject({ code: '23503', constraint: 'run_items_run_id_fkey' });
    await pool.query(`UPDATE run_items SET run_id = run_id, state = 'skipped'`);
    const { rows } = await pool.query<{ run_id: string; state: string }>(
      'SELECT run_id, state FROM run_items',
    );
    expect(rows).toEqual([{ run_id: runId, state: 'skipped' }]);
  });
});
