/**
 * Rows from any source become a run: each row is normalised and recorded in batches (the run stays
 * `importing`, nothing queued), then the run is marked ready for the feeder. The CSV file and the
 * database are both row sources of this one path. Bad input aborts the run with every accepted row failed
 * as IMPORT_ABORTED, so nothing is silently lost.
 */
import type { Pool } from '../db/pool.js';
import type { AcceptedRow, RejectedRow } from '../db/runs.js';
import { abortRun, createRun, markReady, recordBatch } from '../db/runs.js';
import type { Logger } from '../log.js';
import { normalisePhone } from '../phone.js';
import type { RejectsWriter } from '../sources/rejects-writer.js';
import { createRejectsWriter } from '../sources/rejects-writer.js';

/** One row read by a source. */
export interface SourceRow {
  /** Where the row is in its source, 1-based: the CSV line the record starts on, or the query's row number. */
  line: number;
  /** The phone number as written in the source, untrimmed. */
  phone: string;
  /** The row's CustSpaceId, when the source has a space column (else `ImportOptions.space` applies). */
  space?: string | undefined;
}

export interface ImportOptions {
  /** The queue the run's numbers go to. */
  queue: string;
  /** The run's `source`, e.g. `csv:contacts.csv` or `db:contacts`. */
  source: string;
  /**
   * The rows. The first row is read before the run is created, so a source that fails at once (missing
   * file, missing column, bad query) leaves no run behind.
   */
  rows: AsyncIterable<SourceRow>;
  /** One CustSpaceId for every row. Default: each row's own `space`. */
  space?: string | undefined;
  /** Name of the per-row space column, used in the reject reason `empty <name> (CustSpaceId)`. Default `space`. */
  spaceColumnLabel?: string | undefined;
  /** ISO 3166 alpha-2 country for numbers written without a country code. Default: none. */
  defaultCountry?: string | undefined;
  /** Where invalid rows are written (line, raw, reason). Default: none (they are still in run_rejects). */
  rejectsFile?: string | undefined;
  /** Numbers fetched more recently than this are skipped; 0 always fetches. */
  maxAgeMs: number;
  /** Rows per transaction. Default 1000. */
  batchSize?: number | undefined;
}

export interface ImportResult {
  runId: number;
  /** Rows read (every one is counted in the run's `total`). */
  rows: number;
  invalid: number;
}

/** Normalises and records every row of `options.rows` as a new run, then marks it ready. */
export async function importRows(pool: Pool, log: Logger, options: ImportOptions): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 1000;
  const spaceLabel = options.spaceColumnLabel ?? 'space';
  const iterator = options.rows[Symbol.asyncIterator]();
  const first = await iterator.next();
  const runId = await createRun(pool, {
    queue: options.queue,
    source: options.source,
    maxAgeMs: options.maxAgeMs,
  });
  const runLog = log.child({ run: runId });
  let rejects: RejectsWriter | undefined;
  let accepted: AcceptedRow[] = [];
  let rejected: RejectedRow[] = [];
  let count = 0;
  let invalid = 0;
  const flush = async () => {
    await recordBatch(pool, runId, accepted, rejected);
    accepted = [];
    rejected = [];
  };
  try {
    if (options.rejectsFile) rejects = createRejectsWriter(options.rejectsFile);
    for (let next = first; !next.done; next = await iterator.next()) {
      const row = next.value;
      count += 1;
      const space = options.space ?? row.space?.trim() ?? '';
      const phone = normalisePhone(row.phone, options.defaultCountry);
      if (phone.ok && space !== '') {
        accepted.push({ line: row.line, custSpaceId: space, phoneNumber: phone.phone });
      } else {
        const reason = phone.ok ? `empty ${spaceLabel} (CustSpaceId)` : phone.reason;
        const reject = { line: row.line, raw: row.phone, reason };
        rejected.push(reject);
        invalid += 1;
        await rejects?.write(reject);
      }
      if (accepted.length + rejected.length >= batchSize) await flush();
    }
    await flush();
    await rejects?.close();
    await markReady(pool, runId);
  } catch (err) {
    // Rows read before the failure are recorded too, so the abort below fails them instead of losing them.
    await flush().catch((e: unknown) =>
      runLog.error({ err: e }, 'could not record the rows read before the failure'),
    );
    await rejects?.close().catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    await abortRun(pool, runId, message).catch((e: unknown) =>
      runLog.error({ err: e }, 'could not abort the run'),
    );
    runLog.error({ code: (err as { code?: string }).code }, 'import aborted; its rows were not queued');
    throw err;
  }
  runLog.info({ rows: count, invalid }, 'import recorded');
  return { runId, rows: count, invalid };
}
