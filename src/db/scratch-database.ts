/**
 * A database of its own on the configured PostgreSQL server, created for one process and dropped after
 * it: the demo keeps its simulated profiles and runs there, never in the database of record.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AppError } from '../errors.js';
import type { Queryable } from './pool.js';

export interface ScratchDatabase {
  /** Its name, `<prefix>_<pid>_<random>`. */
  readonly name: string;
  /** `databaseUrl` with the scratch database in place of the configured one. */
  readonly url: string;
  /** Drops it, ending any connection still open to it. Idempotent. */
  drop(): Promise<void>;
}

/**
 * Creates a scratch database through `admin` (a connection to `databaseUrl`, which stays open until
 * `drop`). A role without the CREATEDB privilege gets a clear `CONFIG_INVALID` error.
 */
export async function createScratchDatabase(
  admin: Queryable,
  databaseUrl: string,
  prefix: string,
): Promise<ScratchDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const quoted = pg.escapeIdentifier(name);
  try {
    await admin.query(`CREATE DATABASE ${quoted}`);
  } catch (err) {
    // insufficient_privilege, by SQLSTATE.
    if ((err as { code?: string }).code === '42501') {
      throw new AppError(
        'CONFIG_INVALID',
        `DATABASE_URL: the role may not create databases, and the demo works in a database of its own that it creates and drops: grant the role CREATEDB or set DATABASE_URL to one that has it`,
        { cause: err },
      );
    }
    throw err;
  }
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  let dropping: Promise<void> | undefined;
  return {
    name,
    url: url.toString(),
    drop() {
      dropping ??= admin.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`).then(() => undefined);
      return dropping;
    },
  };
}
