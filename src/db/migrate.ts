/**
 * Applies the numbered SQL files of `migrations/` (`0001_name.sql`, ...), each in its own transaction
 * that first records itself, or, when its first line says `--! no-transaction`, statement by statement
 * and recorded after they all succeeded (`migration-file.ts`). A transaction-scoped advisory lock
 * serialises concurrent runners, and the record's primary key would stop a second runner even without
 * it, so running twice or twice at once is safe. A database found current is left untouched: no lock,
 * no DDL, so a role without the right to change the schema may run it.
 *
 * The ledger's tables and the record of applied migrations live in the ledger's schema
 * (`Config.schema`); each migration runs with that schema first on its search_path, so an unqualified
 * `CREATE TABLE` lands there, and objects meant for CRM queries name `public.` themselves. A database
 * that holds a migration this code does not know was migrated by a newer version: nothing runs on it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_SCHEMA } from '../config.js';
import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import { packageRoot, packageVersion } from '../package-root.js';
import type { ConcurrentIndex, Migration } from './migration-file.js';
import {
  concurrentIndex,
  runsOutsideTransaction,
  splitStatements,
  withLedgerSchema,
} from './migration-file.js';
import { ledgerSearchPath, withClient } from './pool.js';
import type { Pool, PoolClient, Queryable } from './pool.js';

const LOCK_KEY = 'cams-enrich:migrate';
const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;
/** The record of applied migrations; before the ledger had a schema of its own it was in `public`. */
const RECORD_TABLE = 'cams_enrich_migrations';

export interface MigrateResult {
  /** File names applied by this call, in order. */
  applied: string[];
  /** File names found already applied. */
  alreadyApplied: string[];
}

export type { Migration } from './migration-file.js';

export interface MigrateOptions {
  /** Schema of the ledger's tables and of the record of applied migrations. Default `cams_enrich`. */
  schema?: string;
  /** The migrations this code knows, in order. Default: the files of `migrations/`. */
  migrations?: Migration[];
}

interface AppliedMigration {
  id: number;
  name: string;
  /** The cams-enrich version that applied it; null for migrations recorded before versions were. */
  version: string | null;
}

export async function loadMigrations(dir = join(packageRoot(), 'migrations')): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const name of files) {
    const match = MIGRATION_FILE.exec(name);
    if (!match) throw new AppError('MIGRATION_FAILED', `migration file ${name} must be named NNNN_name.sql`);
    const twin = migrations.find((m) => m.id === Number(match[1]));
    if (twin)
      throw new AppError('MIGRATION_FAILED', `migration files ${twin.name} and ${name} share a number`);
    const migration = { id: Number(match[1]), name, sql: await readFile(join(dir, name), 'utf8') };
    if (runsOutsideTransaction(migration)) {
      const statements = splitStatements(withLedgerSchema(migration.sql, DEFAULT_SCHEMA));
      for (const statement of statements) concurrentIndex(migration, statement);
    }
    migrations.push(migration);
  }
  return migrations;
}

export async function migrate(pool: Pool, log: Logger, options: MigrateOptions = {}): Promise<MigrateResult> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const all = options.migrations ?? (await loadMigrations());
  // Nothing to do, nothing locked and no DDL: what every worker start finds on a current schema.
  const found = await readRecord(pool, schema);
  assertNotNewer(found.applied, all);
  const done = new Set(found.applied.map((m) => m.id));
  if (found.current && all.every((m) => done.has(m.id))) {
    return { applied: [], alreadyApplied: all.map((m) => m.name) };
  }
  return withMigrationLock(pool, (assertLocked) =>
    withClient(pool, async (client, discard) => {
      await prepareRecord(client, schema);
      const applied = await appliedMigrations(client, schema);
      assertNotNewer(applied, all);
      const ids = new Set(applied.map((m) => m.id));
      const result: MigrateResult = { applied: [], alreadyApplied: [] };
      for (const m of all) {
        if (ids.has(m.id)) {
          result.alreadyApplied.push(m.name);
          continue;
        }
        assertLocked();
        const ran = runsOutsideTransaction(m)
          ? await applyOutsideTransaction(client, m, schema, log)
          : await applyInTransaction(client, m, schema, discard);
        if (ran) {
          result.applied.push(m.name);
          log.info({ migration: m.name }, 'migration applied');
        } else {
          result.alreadyApplied.push(m.name);
        }
      }
      return result;
    }),
  );
}

/**
 * `migrate` for the commands that write (worker, import, …) as they start: on a current schema it
 * changes nothing, so a role with data privileges only may run them; a schema that is behind is
 * migrated when the role may, and when it may not (insufficient_privilege) the command stops with
 * MIGRATION_NOT_ALLOWED (exit 2) saying to run `migrate` as the schema's owner.
 */
export async function migrateAtStart(pool: Pool, log: Logger, options: MigrateOptions = {}): Promise<void> {
  try {
    await migrate(pool, log, options);
  } catch (err) {
    const cause = err instanceof AppError ? err.cause : err;
    if ((cause as { code?: unknown } | undefined)?.code !== '42501') throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new AppError(
      'MIGRATION_NOT_ALLOWED',
      `the ledger's schema is behind this version of cams-enrich and this role may not change it (${detail}): ` +
        'run "cams-enrich migrate" as the owner of the ledger\'s schema first',
      { cause: err },
    );
  }
}

/**
 * Runs `fn` holding the migration lock: a transaction-scoped advisory lock, held by a transaction left
 * open on a connection of its own (beside the pool's) while the migrations run on one of the pool's, so
 * it is never left behind on a connection a transaction pooler hands to someone else, and goes with the
 * process if it dies. A runner
 * that finds it taken does not wait inside a transaction: it asks again, after 50 ms doubling to 1 s.
 * `fn` gets a check that throws once the lock's connection was lost.
 */
async function withMigrationLock<T>(pool: Pool, fn: (assertLocked: () => void) => Promise<T>): Promise<T> {
  // A connection beside the pool's (same parameters), so a pool of one connection can still migrate.
  const client = new pg.Client(pool.options);
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  try {
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      await client.query('BEGIN');
      // The lock's transaction idles while the migrations run on another connection: the pool's
      // idle-in-transaction timeout must not end it.
      await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      // No parameters, so the simple protocol: an extended-protocol statement's unnamed portal would
      // keep its snapshot while the transaction idles, and CREATE INDEX CONCURRENTLY waits for it.
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_xact_lock(hashtext('${LOCK_KEY}')) AS locked`,
      );
      if (rows[0]?.locked) break;
      await client.query('ROLLBACK');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const result = await fn(() => {
      if (lost) {
        throw new AppError(
          'MIGRATION_FAILED',
          `the connection holding the migration lock was lost (${lost.message}): run migrate again`,
        );
      }
    });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(onError);
    throw err;
  } finally {
    await client.end().catch(onError);
  }
}

/**
 * The ledger's schema and the record of applied migrations, each created only when missing (checked
 * first: `CREATE SCHEMA IF NOT EXISTS` needs CREATE on the database even when the schema exists), the
 * record moved from `public` where an older version left it, and given its version column.
 */
async function prepareRecord(client: PoolClient, schema: string): Promise<void> {
  const record = `${pg.escapeIdentifier(schema)}.${RECORD_TABLE}`;
  const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
  await adoptPublicRecord(client, schema);
  const found = await readRecord(client, schema);
  if (!found.inSchema) {
    await client.query(`CREATE TABLE IF NOT EXISTS ${record} (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      version text)`);
  } else if (!found.current) {
    // A record made by an older version lacks the column.
    await client.query(`ALTER TABLE ${record} ADD COLUMN IF NOT EXISTS version text`);
  }
}

/**
 * A migration in one transaction that first records itself, so two runners can never both apply it.
 * False when it was found recorded already.
 */
async function applyInTransaction(
  client: PoolClient,
  m: Migration,
  schema: string,
  discard: (err: unknown) => void,
): Promise<boolean> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL search_path TO ${ledgerSearchPath(schema)}`);
    // A migration may wait on purpose (a lock, a DO block): the pool's idle-in-transaction timeout is not for it.
    await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
    const inserted = await client.query(
      `INSERT INTO ${pg.escapeIdentifier(schema)}.${RECORD_TABLE} (id, name, version) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO NOTHING`,
      [m.id, m.name, packageVersion()],
    );
    if (inserted.rowCount === 0) {
      await client.query('ROLLBACK');
      return false;
    }
    await client.query(withLedgerSchema(m.sql, schema));
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(discard);
    throw migrationFailed(m, err);
  }
}

/**
 * A `--! no-transaction` migration: its statements one by one, each committed on its own, then its
 * record. Interrupted, it runs whole again the next time, so each statement must be a no-op once done
 * (`IF NOT EXISTS`); an index that an interrupted `CREATE INDEX CONCURRENTLY` left INVALID is dropped
 * (concurrently) before it is built again. Returns false when it was found recorded already.
 */
async function applyOutsideTransaction(
  client: PoolClient,
  m: Migration,
  schema: string,
  log: Logger,
): Promise<boolean> {
  const statements = splitStatements(withLedgerSchema(m.sql, schema)).map((sql) => ({
    sql,
    index: concurrentIndex(m, sql),
  }));
  try {
    for (const { sql, index } of statements) {
      if (index) await dropInvalidIndex(client, index, m, log);
      await client.query(sql);
    }
    const inserted = await client.query(
      `INSERT INTO ${pg.escapeIdentifier(schema)}.${RECORD_TABLE} (id, name, version) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO NOTHING`,
      [m.id, m.name, packageVersion()],
    );
    return inserted.rowCount !== 0;
  } catch (err) {
    throw migrationFailed(m, err);
  }
}

/** Drops the index when a build left it INVALID (interrupted, or failed part-way). */
async function dropInvalidIndex(client: PoolClient, index: ConcurrentIndex, m: Migration, log: Logger) {
  const name = index.name.startsWith('"')
    ? index.name.slice(1, -1).replaceAll('""', '"')
    : index.name.toLowerCase();
  const { rows } = await client.query<{ qualified: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS qualified
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE i.indrelid = to_regclass($1) AND c.relname = $2 AND NOT i.indisvalid`,
    [index.table, name],
  );
  const invalid = rows[0];
  if (!invalid) return;
  log.warn(
    { migration: m.name, index: invalid.qualified },
    'dropping an index an interrupted build left invalid',
  );
  await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${invalid.qualified}`);
}

function migrationFailed(m: Migration, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new AppError('MIGRATION_FAILED', `migration ${m.name} failed: ${detail}`, { cause: err });
}

/**
 * For read-only commands: fails with SCHEMA_OUTDATED, saying what to run, unless every migration is
 * applied, and with SCHEMA_NEWER when a newer version migrated the database.
 */
export async function assertMigrated(pool: Pool, options: MigrateOptions = {}): Promise<void> {
  const all = options.migrations ?? (await loadMigrations());
  const applied = await appliedMigrations(pool, options.schema ?? DEFAULT_SCHEMA);
  assertNotNewer(applied, all);
  const ids = new Set(applied.map((m) => m.id));
  const missing = all.filter((m) => !ids.has(m.id));
  if (missing.length > 0) {
    throw new AppError(
      'SCHEMA_OUTDATED',
      `the database lacks migration ${missing.map((m) => m.name).join(', ')}: run "cams-enrich migrate" first`,
    );
  }
}

/**
 * A database migrated before the ledger had a schema of its own keeps its record in `public`: it
 * moves, with its rows, into the ledger's schema, where the migration that moves the tables finds it.
 */
async function adoptPublicRecord(db: Queryable, schema: string): Promise<void> {
  if (schema === 'public') return;
  const { rows } = await db.query<{ ours: string | null; old: string | null }>(
    'SELECT to_regclass($1) AS ours, to_regclass($2) AS old',
    [`${pg.escapeIdentifier(schema)}.${RECORD_TABLE}`, `public.${RECORD_TABLE}`],
  );
  if (rows[0]?.ours === null && rows[0]?.old !== null) {
    await db.query(`ALTER TABLE public.${RECORD_TABLE} SET SCHEMA ${pg.escapeIdentifier(schema)}`);
  }
}

interface FoundRecord {
  /** Applied migrations, from the schema's record, else the one left in `public`. */
  applied: AppliedMigration[];
  /** The record is in the ledger's schema. */
  inSchema: boolean;
  /** The record is in the ledger's schema and has every column this version writes. */
  current: boolean;
}

async function readRecord(db: Queryable, schema: string): Promise<FoundRecord> {
  const { rows } = await db.query<{ in_schema: boolean; versioned: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS in_schema,
            EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = to_regclass($1) AND attname = 'version' AND NOT attisdropped) AS versioned`,
    [`${pg.escapeIdentifier(schema)}.${RECORD_TABLE}`],
  );
  const inSchema = rows[0]?.in_schema === true;
  return {
    applied: await appliedMigrations(db, schema),
    inSchema,
    current: inSchema && rows[0]?.versioned === true,
  };
}

/** The record of applied migrations: the schema's, else the one left in `public` by an older version. */
async function appliedMigrations(db: Queryable, schema: string): Promise<AppliedMigration[]> {
  for (const table of [`${pg.escapeIdentifier(schema)}.${RECORD_TABLE}`, `public.${RECORD_TABLE}`]) {
    try {
      // to_jsonb: the version column is absent from a record an older version made.
      const { rows } = await db.query<AppliedMigration>(
        `SELECT id, name, to_jsonb(m) ->> 'version' AS version FROM ${table} m ORDER BY id`,
      );
      return rows;
    } catch (err) {
      if ((err as { code?: string }).code !== '42P01') throw err; // undefined_table: look further
    }
  }
  return [];
}

/** Refuses a database that records a migration this code does not know: a newer version applied it. */
function assertNotNewer(applied: AppliedMigration[], known: Migration[]): void {
  const ids = new Set(known.map((m) => m.id));
  const unknown = applied.filter((m) => !ids.has(m.id));
  const newest = unknown.at(-1);
  if (newest === undefined) return;
  const by = newest.version === null ? 'a newer cams-enrich' : `cams-enrich ${newest.version}`;
  const knows = known.at(-1)?.name ?? 'no migration';
  throw new AppError(
    'SCHEMA_NEWER',
    `the database was migrated by ${by} (up to ${newest.name}); this is cams-enrich ${packageVersion()}, ` +
      `which knows migrations up to ${knows}: upgrade cams-enrich, or point DATABASE_URL (or CAMS_SCHEMA) elsewhere`,
  );
}
