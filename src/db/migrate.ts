/**
 * Applies the numbered SQL files of `migrations/` (`0001_name.sql`, ...), each in its own transaction
 * that first records itself. A session advisory lock serialises concurrent runners, and the record's
 * primary key would stop a second runner even without it, so running twice or twice at once is safe.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import type { Pool } from './pool.js';
import { withClient } from './pool.js';

const LOCK_KEY = 'cams-enrich:migrate';
const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;

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

export async function loadMigrations(dir = join(packageRoot(), 'migrations')): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const name of files) {
    const match = MIGRATION_FILE.exec(name);
    if (!match) throw new AppError('MIGRATION_FAILED', `migration file ${name} must be named NNNN_name.sql`);
    migrations.push({ id: Number(match[1]), name, sql: await readFile(join(dir, name), 'utf8') });
  }
  return migrations;
}

export async function migrate(pool: Pool, log: Logger, migrations?: Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  await withClient(pool, async (client, discard) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS cams_enrich_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of all) {
        await client.query('BEGIN');
        try {
          const inserted = await client.query(
            'INSERT INTO cams_enrich_migrations (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
            [m.id, m.name],
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

/** For read-only commands: fails with SCHEMA_OUTDATED, saying what to run, unless every migration is applied. */
export async function assertMigrated(pool: Pool, migrations?: Migration[]): Promise<void> {
  const all = migrations ?? (await loadMigrations());
  let applied = new Set<number>();
  try {
    const { rows } = await pool.query<{ id: number }>('SELECT id FROM cams_enrich_migrations');
    applied = new Set(rows.map((r) => r.id));
  } catch (err) {
    if ((err as { code?: string }).code !== '42P01') throw err; // undefined_table: nothing applied yet
  }
  const missing = all.filter((m) => !applied.has(m.id));
  if (missing.length > 0) {
    throw new AppError(
      'SCHEMA_OUTDATED',
      `the database lacks migration ${missing.map((m) => m.name).join(', ')}: run "cams-enrich migrate" first`,
    );
  }
}
