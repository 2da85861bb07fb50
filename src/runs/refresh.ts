/**
 * A refresh is a run of the numbers worth fetching again (`refresh-source.ts`), through the one import
 * path, with the duration as the run's max age: a number refreshed meanwhile by another run is
 * skipped rather than fetched twice.
 */
import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import { readStaleNumbers } from '../sources/refresh-source.js';
import type { ImportResult } from './import-run.js';
import { importRows } from './import-run.js';

export interface RefreshOptions {
  queue: string;
  /** Profiles fetched more than this many ms ago are fetched again; also the run's max age. */
  olderThanMs: number;
  /** Only this CustSpaceId. Default: every space. */
  space?: string | undefined;
  /** The run's `source`. Default `refresh`. */
  runSource?: string | undefined;
  /** Rows per cursor round trip and per ledger transaction. Default 1000. */
  batchSize?: number | undefined;
}

export async function refreshRun(pool: Pool, log: Logger, options: RefreshOptions): Promise<ImportResult> {
  const client = await pool.connect();
  try {
    return await importRows(pool, log, {
      queue: options.queue,
      source: options.runSource ?? 'refresh',
      rows: readStaleNumbers(client, options),
      spaceColumnLabel: 'cust_space_id',
      maxAgeMs: options.olderThanMs,
      batchSize: options.batchSize,
    });
  } finally {
    client.release();
  }
}
