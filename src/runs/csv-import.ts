/**
 * A CSV file becomes a run: the CSV source's rows go through the one import path (`importRows`), with the
 * file's name as the run's source. The file and its header are checked by the source before the run exists.
 */
import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { Pool } from '../db/pool.js';
import type { RunPriority } from '../db/runs.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { isCountryCode } from '../phone.js';
import { readCsvRows } from '../sources/csv-source.js';
import { checkEncoding } from '../sources/text-input.js';
import type { ImportResult } from './import-run.js';
import { checkSpace } from '../space.js';
import { importRows } from './import-run.js';

export interface CsvImportOptions {
  /** The CSV file, or `-` for `input` (standard input). */
  file: string;
  /** The stream read when `file` is `-`. Default: none. */
  input?: Readable | undefined;
  /** Field delimiter. Default: detected from the header line (`,`, `;` or tab). */
  delimiter?: string | undefined;
  /** The file's encoding (WHATWG label). Default: UTF-8, checked byte by byte. */
  encoding?: string | undefined;
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
  /** The run's share of the quota: `high` runs go before `normal` ones, `normal` before `low`. Default `normal`. */
  priority?: RunPriority | undefined;
  /** Rows per transaction. Default 1000. */
  batchSize?: number;
  /** Aborting it stops the import and aborts the run. */
  signal?: AbortSignal | undefined;
}

export type CsvImportResult = ImportResult;

/** File descriptor of standard input: a rejects file must not be the file it was redirected from. */
const STDIN_FD = 0;

export function validateImportOptions(
  o: Pick<CsvImportOptions, 'space' | 'spaceColumn' | 'defaultCountry' | 'encoding'>,
): void {
  if (o.encoding !== undefined) checkEncoding(o.encoding);
  if ((o.space === undefined) === (o.spaceColumn === undefined)) {
    throw new AppError('USAGE', 'give exactly one of --space ID or --space-column NAME');
  }
  if (o.space !== undefined) checkSpace(o.space);
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
  const stdin = options.file === '-';
  if (stdin && options.input === undefined) throw new AppError('USAGE', 'no standard input to read from');
  const name = stdin ? 'stdin' : options.file;
  // The input's bytes are hashed as they are read, so `export --input` can tell the same file again.
  const hash = createHash('sha256');
  const readOptions = {
    delimiter: options.delimiter,
    encoding: options.encoding,
    phoneColumn: options.phoneColumn,
    spaceColumn: options.spaceColumn,
  };
  return importRows(pool, log, {
    queue: options.queue,
    source: `csv:${stdin ? 'stdin' : basename(options.file)}`,
    rows: readCsvRows(name, {
      phoneColumn: options.phoneColumn,
      spaceColumn: options.spaceColumn,
      delimiter: options.delimiter,
      encoding: options.encoding,
      input: stdin ? options.input : undefined,
      signal: options.signal,
      onBytes: (chunk) => hash.update(chunk),
    }),
    describeInput: () => ({
      sha256: hash.digest('hex'),
      path: stdin ? null : resolve(options.file),
      options: readOptions,
    }),
    space: options.space,
    spaceColumnLabel: options.spaceColumn,
    defaultCountry: options.defaultCountry,
    rejectsFile: options.rejectsFile,
    inputFile: stdin ? STDIN_FD : options.file,
    maxAgeMs: options.maxAgeMs,
    priority: options.priority,
    batchSize: options.batchSize,
    signal: options.signal,
    sourceEndsOnStop: true,
  });
}
