/**
 * A CSV file becomes a run: rows are streamed, normalised and recorded in batches (the run stays
 * `importing`, nothing queued), then the run is marked ready for the feeder. Bad input aborts the
 * run with every accepted row failed as IMPORT_ABORTED, so nothing is silently lost.
 */
import { basename } from 'node:path';
import type { Pool } from '../db/pool.js';
import type { AcceptedRow, RejectedRow } from '../db/runs.js';
import { abortRun, createRun, markReady, recordBatch } from '../db/runs.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { normalisePhone, isCountryCode } from '../phone.js';
import { readCsvRows } from '../sources/csv-source.js';
import type { RejectsWriter } from '../sources/rejects-writer.js';
import { createRejectsWriter } from '../sources/rejects-writer.js';

export interface CsvImportOptions {
  file: string;
  queue: string;
  /** One CustSpaceId for every row… */
  space?: string | undefined;
  /** …or the header of a per-row CustSpaceId column. */
  spaceColumn?: string | undefined;
  /** Header of the phone column. Default: first of phone, phone_number, mobile, PhoneNumber. */
  phoneColumn?: string | undefined;
  /** ISO 3166 alpha-2 country for numbers written without a country code. */
  defaultCountry?: string | undefined;
  /** Where invalid rows are written (line, raw, reason). Default: none (they are still in run_rejects). */
  rejectsFile?: string | undefined;
  /** Numbers fetched more recently than this are skipped; 0 always fetches. */
  maxAgeMs: number;
  /** Rows per transaction. Default 1000. */
  batchSize?: number;
}

export interface CsvImportResult {
  runId: number;
  rows: number;
  invalid: number;
}

export function validateImportOptions(
  o: Pick<CsvImportOptions, 'space' | 'spaceColumn' | 'defaultCountry'>,
): void {
  if ((o.space === undefined) === (o.spaceColumn === undefined)) {
    throw new AppError('USAGE', 'give exactly one of --space ID or --space-column NAME');
  }
  if (o.space !== undefined && o.space.trim() === '')
    throw new AppError('USAGE', '--space must not be empty');
  if (o.defaultCountry !== undefined && !isCountryCode(o.defaultCountry)) {
    throw new AppError(
      'USAGE',
      `--default-country must be an ISO 3166 alpha-2 code such as CN or US (got '${o.defaultCountry}')`,
    );
  }
}

export async function importCsv(
  pool: Pool,
  log: Logger,
  options: CsvImportOptions,
): Promise<CsvImportResult> {
  validateImportOptions(options);
  const batchSize = options.batchSize ?? 1000;
  const rows = readCsvRows(options.file, {
    phoneColumn: options.phoneColumn,
    spaceColumn: options.spaceColumn,
  });
  const iterator = rows[Symbol.asyncIterator]();
  // Read the first row before creating the run, so a missing file or header is a usage error with no run left behind.
  const first = await iterator.next();
  const runId = await createRun(pool, {
    queue: options.queue,
    source: `csv:${basename(options.file)}`,
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
        const reason = phone.ok ? `empty ${options.spaceColumn} (CustSpaceId)` : phone.reason;
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
