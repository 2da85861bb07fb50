/**
 * Applies the numbered SQL files of `migrations/` (`0001_name.sql`, ...), each in its own transaction
 * that first records itself. A session advisory lock serialises concurrent runners, and the record's
 * primary key would stop a second runner even without it, so running twice or twice at once is safe.
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
import { ledgerSearchPath, withClient } from './pool.js';
import type { Pool, Queryable } from './pool.js';

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

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

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
    migrations.push({ id: Number(match[1]), name, sql: await readFile(join(dir, name), 'utf8') });
  }
  return migrations;
}

export async function migrate(pool: Pool, log: Logger, options: MigrateOptions = {}): Promise<MigrateResult> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const all = options.migrations ?? (await loadMigrations());
  const record = `${pg.escapeIdentifier(schema)}.${RECORD_TABLE}`;
  const version = packageVersion();
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  await withClient(pool, async (client, discard) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [LOCK_KEY]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
      await adoptPublicRecord(client, schema);
      await client.query(`CREATE TABLE IF NOT EXISTS ${record} (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        version text)`);
      // A record made by an older version lacks the column (checked first: ALTER would lock the table).
      const versioned = await client.query(
        `SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'version' AND NOT attisdropped`,
        [record],
      );
      if (versioned.rowCount === 0) await client.query(`ALTER TABLE ${record} ADD COLUMN version text`);
      assertNotNewer(await appliedMigrations(client, schema), all);
      for (const m of all) {
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL search_path TO ${ledgerSearchPath(schema)}`);
          const inserted = await client.query(
            `INSERT INTO ${record} (id, name, version) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
            [m.id, m.name, version],
          );
          if (inserted.rowCount === 0) {
            await client.query('ROLLBACK');
            result.alreadyApplied.push(m.name);
            continue;
          }
          await client.query(m.sql);
          await client.query('COMMIT');
          result.applied.push(m.name);
          log.info({ migration: m.name }, 'migration applied');
        } catch (err) {
          await client.query('ROLLBACK').catch(discard);
          const detail = err instanceof Error ? err.message : String(err);
          throw new AppError('MIGRATION_FAILED', `migration ${m.name} failed: ${detail}`, { cause: err });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK_KEY]).catch(discard);
    }
  });
  return result;
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
