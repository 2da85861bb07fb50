/**
 * Opening the ledger's pool for a command, owned by its `Resources`. Kept apart from the Redis and queue
 * openers (`connections.ts`) so a command that needs only the ledger (export, usage, prune) starts
 * without loading BullMQ and ioredis.
 */
import type { Config } from './config.js';
import { assertDatabase, createPool } from './db/pool.js';
import type { Pool } from './db/pool.js';
import { assertMigrated, migrateAtStart } from './db/migrate.js';
import { ensureEmbeddedServer } from './embedded/server.js';
import type { Logger } from './log.js';
import type { Resources } from './resources.js';

/**
 * Makes sure the ledger's server runs when it is the embedded one (`DATABASE_URL` unset): started, and
 * created the first time, by the first command that needs it. Nothing to do for a server of one's own.
 */
export async function ensureDatabaseServer(
  config: Pick<Config, 'databaseEmbedded' | 'dataDir'>,
  log: Logger,
): Promise<void> {
  if (config.databaseEmbedded) await ensureEmbeddedServer({ dataDir: config.dataDir, log });
}

/**
 * A pool that answers, on an up-to-date schema. Commands that write (import, worker, demo) apply
 * missing migrations themselves (safe from every process at once); read-only ones (`readOnly`) only
 * check and say to run `migrate`, so pointing them at a database never changes it.
 */
export async function openDatabase(
  res: Resources,
  config: Config,
  log: Logger,
  max = 10,
  options: { readOnly?: boolean } = {},
): Promise<Pool> {
  await ensureDatabaseServer(config, log);
  const pool = res.own(createPool(config.databaseUrl, log, { max, schema: config.schema }), (p) => p.end());
  await assertDatabase(pool, config.databaseUrl);
  if (options.readOnly) await assertMigrated(pool, { schema: config.schema });
  else await migrateAtStart(pool, log, { schema: config.schema });
  return pool;
}
