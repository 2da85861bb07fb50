/**
 * A PostgreSQL table or query becomes a run: the database source's rows go through the one import
 * path (`importRows`), with `db:<table>` (or `db:query`) as the run's source. The source database is
 * read on a client of its own, inside a READ ONLY transaction.
 */
import type { Pool } from '../db/pool.js';
import { AppError } from '../errors.js';
import type { RunPriority } from '../db/runs.js';
import type { Logger } from '../log.js';
import { isCountryCode } from '../phone.js';
import { checkSpace } from '../space.js';
import type { DbSourceSpec } from '../sources/db-source.js';
import { dbSourceName, readDbRows } from '../sources/db-source.js';
import type { ImportResult } from './import-run.js';
import { importRows } from './import-run.js';
import { closeSource, connectSource, SOURCE_CONNECT_TIMEOUT_MS } from '../sources/db-connection.js';
import { anySignal } from './stop.js';

export interface DbImportOptions {
  /** The queue the run's numbers go to. */
  queue: string;
  /** PostgreSQL holding the contacts (a password may come from PGPASSWORD or ~/.pgpass). */
  sourceUrl: string;
  spec: DbSourceSpec;
  /** One CustSpaceId for every row; else the table's `spaceColumn` or the query's `cust_space_id`. */
  space?: string | undefined;
  /** ISO 3166 alpha-2 country for numbers written without a country code. Default: none. */
  defaultCountry?: string | undefined;
  /** Numbers fetched more recently than this are skipped; 0 always fetches. */
  maxAgeMs: number;
  /** The run's share of the quota: `high` runs go before `normal` ones, `normal` before `low`. Default `normal`. */
  priority?: RunPriority | undefined;
  /** The run's `source`. Default `db:<table>` or `db:query`. */
  runSource?: string | undefined;
  /** Rows per cursor round trip and per ledger transaction. Default 1000. */
  batchSize?: number | undefined;
  /** How `sourceUrl` is named in messages. Default `--source-url`. */
  sourceLabel?: string | undefined;
  /** How long connecting to the source may take. Default 10 s (`SOURCE_CONNECT_TIMEOUT_MS`). */
  connectTimeoutMs?: number | undefined;
  /**
   * Aborting it stops the import at once (also while connecting, or while the source keeps a read
   * waiting): the source connection is closed and the run aborted with its rows counted. See
   * `ImportOptions.signal` for what its reason means. Default: none.
   */
  signal?: AbortSignal | undefined;
}

/** Checks the flags that do not need a database: which space, which country. */
export function validateDbImport(o: Pick<DbImportOptions, 'spec' | 'space' | 'defaultCountry'>): void {
  if ('query' in o.spec) {
    if (o.spec.query.trim() === '') throw new AppError('USAGE', '--query must not be empty');
  } else if ((o.space === undefined) === (o.spec.spaceColumn === undefined)) {
    throw new AppError('USAGE', 'give exactly one of --space ID or --space-column COLUMN with --table');
  }
  if (o.space !== undefined) checkSpace(o.space);
  if (o.defaultCountry !== undefined && !isCountryCode(o.defaultCountry)) {
    throw new AppError(
      'USAGE',
      `--default-country must be an ISO 3166 alpha-2 code such as CN or US (got '${o.defaultCountry}')`,
    );
  }
}

export async function importFromDatabase(
  pool: Pool,
  log: Logger,
  options: DbImportOptions,
): Promise<ImportResult> {
  validateDbImport(options);
  const source = await connectSource(options.sourceUrl, log, {
    label: options.sourceLabel ?? '--source-url',
    timeoutMs: options.connectTimeoutMs ?? SOURCE_CONNECT_TIMEOUT_MS,
    signal: options.signal,
  });
  const { client } = source;
  try {
    const spaceColumn = 'query' in options.spec ? 'cust_space_id' : options.spec.spaceColumn;
    return await importRows(pool, log, {
      queue: options.queue,
      source: options.runSource ?? dbSourceName(options.spec),
      rows: readDbRows(client, options.spec, {
        spaceGiven: options.space !== undefined,
        batchSize: options.batchSize,
      }),
      space: options.space,
      spaceColumnLabel: spaceColumn,
      defaultCountry: options.defaultCountry,
      maxAgeMs: options.maxAgeMs,
      priority: options.priority,
      batchSize: options.batchSize,
      // A stop, or the source connection failing, ends the import at once.
      signal: anySignal(options.signal, source.lost),
    });
  } finally {
    await closeSource(source);
  }
}
