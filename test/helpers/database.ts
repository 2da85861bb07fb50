/**
 * The usual setup of a test file that needs the ledger: a fresh database of its own, migrated, with a
 * pool on it, created before the file's tests and dropped after them.
 */
import { afterAll, beforeAll } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import type { Pool } from '../../src/db/pool.js';
import { createPool } from '../../src/db/pool.js';
import type { Logger } from '../../src/log.js';
import type { TestDatabase } from './services.js';
import { createTestDatabase } from './services.js';

export interface MigratedDatabase {
  readonly db: TestDatabase;
  readonly pool: Pool;
}

/** Registers the hooks (call it at the top of a file or a `describe`); read the fields inside tests. */
export function useMigratedDatabase(log: Logger, max = 4): MigratedDatabase {
  let db: TestDatabase | undefined;
  let pool: Pool | undefined;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    pool = createPool(db.url, log, { max });
    await migrate(pool, log);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the test database is set up in beforeAll');
    return v;
  };
  return {
    get db() {
      return ready(db);
    },
    get pool() {
      return ready(pool);
    },
  };
}
