/**
 * BullMQ's schema `bullmq` (its tables and functions, for the queue on PostgreSQL), migrated by BullMQ's
 * own migrator (`runMigrations`) and checked with its own check (`assertSchemaCompatibility`, one read,
 * no lock, no DDL).
 *
 * `migrate`, run by the schema's owner, applies BullMQ's migrations (`migrateQueueSchema`); every other
 * command only checks the schema as it opens the queue (`prepareQueueSchema`), and migrates it itself
 * only when it is missing or behind and its role may, so a fresh single box needs no `migrate` step and
 * a role with data privileges only never runs DDL.
 *
 * BullMQ's migrator starts with `CREATE SCHEMA IF NOT EXISTS`, which PostgreSQL refuses to a role
 * without CREATE on the database even when the schema exists: the statement is left out when the
 * schema is there (checked on the migrator's session, after it took its lock), so the schema's owner
 * migrates it with no privilege on the database, as it does the ledger's schema.
 */
import {
  LATEST_SCHEMA_VERSION,
  SchemaMigrationRequiredError,
  SchemaVersionMismatchError,
  assertSchemaCompatibility,
  quoteSchemaName,
  runMigrations,
} from 'bullmq';
import type { PgQueryable, PgQueryResult } from 'bullmq';
import { AppError } from '../errors.js';

/** The schema of BullMQ's tables and functions (BullMQ's own default). */
export const BULL_SCHEMA = 'bullmq';

/** Where BullMQ's schema stands: its version, and whether this call migrated it. */
export interface QueueSchemaState {
  schema: string;
  /** The schema's version after the call (BullMQ's `LATEST_SCHEMA_VERSION` or newer). */
  version: number;
  /** The version found before; 0 when the schema or its record was missing. */
  before: number;
}

/** PostgreSQL's insufficient_privilege. */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * The schema's version as BullMQ reads it: 0 when it was never migrated, undefined when this role may
 * not read it (no USAGE on the schema, no SELECT on its record). A schema migrated by a BullMQ of a
 * newer major version is refused (SCHEMA_NEWER).
 */
async function readVersion(client: PgQueryable, schema: string): Promise<number | undefined> {
  try {
    return await assertSchemaCompatibility(client, schema);
  } catch (err) {
    if (err instanceof SchemaMigrationRequiredError) return 0;
    if (err instanceof SchemaVersionMismatchError) {
      throw new AppError(
        'SCHEMA_NEWER',
        `the queue's schema "${schema}" was migrated by a newer BullMQ (${err.message}): upgrade cams-enrich`,
        { cause: err },
      );
    }
    if ((err as { code?: unknown }).code === INSUFFICIENT_PRIVILEGE) return undefined;
    throw err;
  }
}

/** `client` for BullMQ's migrator, without its `CREATE SCHEMA IF NOT EXISTS` when the schema exists. */
function withoutSchemaCreate(client: PgQueryable, schema: string): PgQueryable {
  const createSchema = `CREATE SCHEMA IF NOT EXISTS ${quoteSchemaName(schema)}`;
  return {
    async query<R>(text: string, params?: readonly unknown[]): Promise<PgQueryResult<R>> {
      if (text.trim() === createSchema) {
        const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
        if (found.rows.length > 0) return { rows: [], rowCount: 0 };
      }
      return client.query<R>(text, params);
    },
  };
}

/**
 * Applies BullMQ's pending migrations to its schema on `client` (one session: BullMQ's migrator holds
 * its advisory lock in the transaction it migrates in, so processes starting at once apply them once).
 * The schema is created when missing, which needs CREATE on the database; a role without it migrates a
 * schema created for it (`CREATE SCHEMA bullmq AUTHORIZATION …`).
 */
export async function migrateQueueSchema(
  client: PgQueryable,
  schema = BULL_SCHEMA,
): Promise<QueueSchemaState> {
  const before = (await readVersion(client, schema)) ?? 0;
  if (before >= LATEST_SCHEMA_VERSION) return { schema, version: before, before };
  const version = await runMigrations(withoutSchemaCreate(client, schema), schema);
  return { schema, version, before };
}

/**
 * For every command that opens the queue on PostgreSQL: checks BullMQ's schema (no lock, no DDL on a
 * current one); a schema missing or behind is migrated when this role may, and when it may not, the
 * command stops with MIGRATION_NOT_ALLOWED (exit 2) saying to run `migrate` as the owner.
 */
export async function prepareQueueSchema(
  client: PgQueryable,
  schema = BULL_SCHEMA,
): Promise<QueueSchemaState> {
  const found = await readVersion(client, schema);
  if (found !== undefined && found >= LATEST_SCHEMA_VERSION) return { schema, version: found, before: found };
  try {
    return await migrateQueueSchema(client, schema);
  } catch (err) {
    if ((err as { code?: unknown }).code !== INSUFFICIENT_PRIVILEGE) throw err;
    const state =
      found === undefined
        ? 'is not readable by this role'
        : found === 0
          ? 'is missing'
          : `is at version ${found} of ${LATEST_SCHEMA_VERSION}`;
    throw new AppError(
      'MIGRATION_NOT_ALLOWED',
      `the queue's schema "${schema}" (BullMQ's tables on PostgreSQL) ${state} and this role may not migrate it ` +
        `(${(err as Error).message}): run "cams-enrich migrate" as the owner role first, then grant this role ` +
        'the privileges docs/production.md lists',
      { cause: err },
    );
  }
}
