/**
 * A refresh is a run of the numbers worth fetching again (`refresh-source.ts`), through the one import
 * path, with the duration as the run's max age: a number refreshed meanwhile by another run is
 * skipped rather than fetched twice.
 */
import type { Pool } from '../db/pool.js';
import { formatDuration } from '../duration.js';
import type { RunPriority } from '../db/runs.js';
import type { Logger } from '../log.js';
import { readStaleNumbers } from '../sources/refresh-source.js';
import type { ImportResult, SourceRow } from './import-run.js';
import { StoppedError, stopError, untilStopped } from './stop.js';
import { importRows } from './import-run.js';

export interface RefreshOptions {
  queue: string;
  /** Profiles fetched more than this many ms ago are fetched again; also the run's max age. */
  olderThanMs: number;
  /** The run's share of the quota: `high` runs go before `normal` ones, `normal` before `low`. Default `low`: a refresh gives way to imports. */
  priority?: RunPriority | undefined;
  /** Only this CustSpaceId. Default: every space. */
  space?: string | undefined;
  /** The run's `source`. Default `refresh`. */
  runSource?: string | undefined;
  /** Rows per cursor round trip and per ledger transaction. Default 1000. */
  batchSize?: number | undefined;
  /** Aborting it stops the refresh at once (see `ImportOptions.signal`). Default: none. */
  signal?: AbortSignal | undefined;
}

/**
 * Makes the refresh run; null, and no run, when there is nothing to refresh. A stop ends the read at
 * once; the ledger connection it was read on is then closed, not given back to the pool mid-query.
 */
export async function refreshRun(
  pool: Pool,
  log: Logger,
  options: RefreshOptions,
): Promise<ImportResult | null> {
  const client = await pool.connect();
  let broken = false;
  try {
    const rows = readStaleNumbers(client, options)[Symbol.asyncIterator]();
    const first = await untilStopped(rows.next(), options.signal).catch((err: unknown) => {
      broken = true;
      throw err instanceof StoppedError ? stopError(options.signal, undefined) : err;
    });
    if (first.done) return null;
    async function* all(): AsyncIterable<SourceRow> {
      yield first.value as SourceRow;
      for (let next = await rows.next(); !next.done; next = await rows.next()) yield next.value;
    }
    return await importRows(pool, log, {
      queue: options.queue,
      source: options.runSource ?? 'refresh',
      rows: all(),
      spaceColumnLabel: 'cust_space_id',
      maxAgeMs: options.olderThanMs,
      priority: options.priority ?? 'low',
      batchSize: options.batchSize,
      signal: options.signal,
    });
  } catch (err) {
    broken ||= options.signal?.aborted === true;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** What a refresh says when no number is due: no run is created. */
export function nothingToRefresh(options: Pick<RefreshOptions, 'olderThanMs' | 'space'>): string {
  const space = options.space === undefined ? '' : ` in space ${options.space}`;
  return `nothing to refresh${space}: no stored profile is older than ${formatDuration(options.olderThanMs)} and no number's last failure was transient; no run created`;
}
