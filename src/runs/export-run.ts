/**
 * A run told back row by row: one output row for every input row of the run, in input order, with its
 * line, number, outcome and the profile of its number (`db/sql/export-rows.ts`), as CSV or JSON Lines.
 * For a CSV run the input's own cells come first when its file is given again (`inputFile`), checked
 * against the SHA-256 stored at import. Rows stream to the output, so memory stays flat whatever the
 * run's size. CSV of the ledger's columns arrives encoded by PostgreSQL (`COPY … TO STDOUT`, with the
 * rejects file's formula guard and quoting, `db/sql/export-csv.ts`), which spares parsing 17 columns a
 * row and encoding them again; the rest streams from a cursor and is encoded here, written in pieces of
 * 64 KiB, since a write per row cost more than the rest of the export.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient } from '../db/pool.js';
import type { RunForExport } from '../db/sql/run-for-export.js';
import { runForExport } from '../db/sql/run-for-export.js';
import type { ExportRow } from '../db/sql/export-rows.js';
import { EXPORT_ROW_COLUMNS, exportRowsQuery } from '../db/sql/export-rows.js';
import type { ExportColumn } from '../db/sql/export-csv.js';
import { exportCsvQuery } from '../db/sql/export-csv.js';
import { AppError, fileErrorReason } from '../errors.js';
import type { CsvRow } from '../sources/csv-source.js';
import { readCsvRows } from '../sources/csv-source.js';
import { guardFormula } from '../sources/rejects-writer.js';

export type ExportFormat = 'csv' | 'jsonl';

/** The columns an export has besides the input's own cells, in their default order. */
export const EXPORT_COLUMNS: readonly string[] = EXPORT_ROW_COLUMNS;

export interface ExportOptions {
  runId: number;
  /** Default `csv`. */
  format?: ExportFormat | undefined;
  /**
   * The columns to write, in this order: names of `EXPORT_COLUMNS`, and with `inputFile` the input's own
   * headers. Default: every input column (with `inputFile`), then every column of `EXPORT_COLUMNS`.
   */
  columns?: readonly string[] | undefined;
  /** The run's input file, read again for its cells; refused unless its SHA-256 is the one stored at import. */
  inputFile?: string | undefined;
  /** Only the rows with one of these outcomes (the dashboard's rejects and failures). Default: every row. */
  outcomes?: readonly string[] | undefined;
}

export interface PreparedExport {
  run: RunForExport;
  /** The output's header (CSV) or keys (JSON Lines). */
  columns: string[];
  /** Writes every row to `out` (which it ends, unless it is standard output); resolves to the rows written. */
  write(out: Writable): Promise<number>;
}

/** A column of the output: the input's cell `k`, or the ledger row's field `j`. */
type Source = { input: number; name: string } | { row: number; name: string };

/**
 * Checks the run and the input file and resolves the columns, before anything is written: a missing run
 * (exit 2, `RUN_NOT_FOUND`), a pruned one (`RUN_PRUNED`), an input file that is not the run's
 * (`INPUT_FILE`), an unknown column (`USAGE`) are refused here.
 */
export async function prepareExport(pool: Pool, options: ExportOptions): Promise<PreparedExport> {
  const run = await runForExport(pool, options.runId);
  if (!run) {
    throw new AppError(
      'RUN_NOT_FOUND',
      `run ${options.runId} does not exist (see "cams-enrich status" for the list)`,
    );
  }
  if (run.prunedAt !== null) {
    throw new AppError(
      'RUN_PRUNED',
      `run ${run.id} was pruned at ${run.prunedAt.toISOString()}: its per-row records are deleted and it cannot be exported (its counters remain in "cams-enrich status --run ${run.id}")`,
    );
  }
  const format = options.format ?? 'csv';
  let input: InputCells | undefined;
  if (options.inputFile !== undefined) input = await openInputCells(run, options.inputFile);
  try {
    const sources = resolveColumns(options.columns, input?.headers ?? []);
    return {
      run,
      columns: sources.map((s) => s.name),
      write: (out) => writeRows(pool, run.id, options.outcomes, format, sources, input, out),
    };
  } catch (err) {
    await input?.close();
    throw err;
  }
}

function resolveColumns(wanted: readonly string[] | undefined, headers: readonly string[]): Source[] {
  const own = EXPORT_COLUMNS.map((name, row): Source => ({ row, name }));
  const inputs = headers.map((name, i): Source => ({ input: i, name }));
  if (wanted === undefined) return [...inputs, ...own];
  return wanted.map((name) => {
    const found = own.find((s) => s.name === name) ?? inputs.find((s) => s.name === name);
    if (found === undefined) {
      const known = [...EXPORT_COLUMNS, ...headers].join(', ');
      throw new AppError('USAGE', `--columns: no column ${JSON.stringify(name)} (columns: ${known})`);
    }
    return found;
  });
}

interface InputCells {
  headers: string[];
  /** The cells of the record on `line`, or undefined when the input has no record there. */
  cellsAt(line: number): Promise<string[] | undefined>;
  close(): Promise<void>;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(file), hash);
  } catch (err) {
    throw new AppError('INPUT_FILE', `cannot read ${file}: ${fileErrorReason(err, 'read')}`, { cause: err });
  }
  return hash.digest('hex');
}

async function openInputCells(run: RunForExport, file: string): Promise<InputCells> {
  if (run.input === undefined) {
    throw new AppError(
      'USAGE',
      `--input: run ${run.id} (${run.source}) keeps no input file to compare with (a database run, or an import that stopped before the end of its file)`,
    );
  }
  if ((await sha256Of(file)) !== run.input.sha256) {
    throw new AppError(
      'INPUT_FILE',
      `${file} is not the input of run ${run.id}: its SHA-256 differs from the one stored at import`,
    );
  }
  let headers: string[] = [];
  const rows = readCsvRows(file, {
    ...run.input.options,
    cells: true,
    onHeader: (h) => (headers = h),
  })[Symbol.asyncIterator]();
  let next: IteratorResult<CsvRow> = await rows.next();
  return {
    headers: headers.map((h) => h.trim()),
    async cellsAt(line) {
      while (!next.done && next.value.line < line) next = await rows.next();
      return !next.done && next.value.line === line ? next.value.cells : undefined;
    },
    async close() {
      await rows.return?.();
    },
  };
}

/** A CSV cell: quoted when it holds a quote, a comma or a line break (quotes doubled). */
const NEEDS_QUOTES = /[",\r\n]/;

function csvCell(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Text a spreadsheet could read as a formula is guarded, then quoted as CSV needs. */
function textCell(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  return csvCell(guardFormula(value));
}

function csvLine(sources: readonly Source[], row: ExportRow, cells: string[] | undefined): string {
  let line = '';
  for (let c = 0; c < sources.length; c++) {
    const s = sources[c]!;
    if (c > 0) line += ',';
    if ('input' in s) line += textCell(cells?.[s.input]);
    else if (s.row === 13) line += row[13] === null ? '' : textCell(row[13].join(' '));
    else line += textCell(row[s.row] as string | null);
  }
  return line + '\n';
}

function jsonLine(sources: readonly Source[], row: ExportRow, cells: string[] | undefined): string {
  const record: Record<string, unknown> = {};
  let input: Record<string, string> | undefined;
  for (const s of sources) {
    if ('input' in s) {
      input ??= {};
      input[s.name] = cells?.[s.input] ?? '';
    } else if (s.row === 0 || s.row === 4) {
      const v = row[s.row];
      record[s.name] = v === null ? null : Number(v);
    } else {
      record[s.name] = row[s.row];
    }
  }
  if (input !== undefined) record.input = input;
  return JSON.stringify(record) + '\n';
}

/** Output is written in pieces of about this many characters, not a write per row. */
const PIECE_CHARS = 64 * 1024;

/** Writes `text` to `out`, waiting for room when it is full; rejects with the stream's error. */
async function writePiece(
  out: Writable,
  text: string | Buffer,
  failed: () => Error | undefined,
): Promise<void> {
  const error = failed();
  if (error) throw error;
  if (out.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      out.off('drain', done);
      out.off('error', done);
      out.off('close', done);
      const e = failed();
      if (e) reject(e);
      else resolve();
    };
    out.on('drain', done);
    out.on('error', done);
    out.on('close', done);
  });
}

/** The ledger's columns `sources` name, in order; undefined when one is a cell of the input. */
function ownColumns(sources: readonly Source[]): ExportColumn[] | undefined {
  const columns: ExportColumn[] = [];
  for (const s of sources) {
    if ('input' in s) return undefined;
    columns.push(EXPORT_ROW_COLUMNS[s.row]!);
  }
  return columns;
}

/**
 * The rows encoded here, from the cursor, after `head` (the CSV header or nothing); resolves to what
 * reads their count.
 */
async function encodeRows(
  client: PoolClient,
  runId: number,
  outcomes: readonly string[] | undefined,
  format: ExportFormat,
  sources: readonly Source[],
  input: InputCells | undefined,
  head: string,
  write: (text: string) => Promise<void>,
): Promise<() => number> {
  const encode = format === 'csv' ? csvLine : jsonLine;
  let text = head;
  let count = 0;
  const rows = client.query(exportRowsQuery(runId, { outcomes }));
  try {
    for await (const row of rows as AsyncIterable<ExportRow>) {
      count++;
      text += encode(sources, row, input ? await input.cellsAt(Number(row[0])) : undefined);
      if (text.length >= PIECE_CHARS) {
        await write(text);
        text = '';
      }
    }
  } finally {
    if (!rows.destroyed) rows.destroy();
  }
  if (text !== '') await write(text);
  return () => count;
}

/**
 * The rows as CSV encoded by PostgreSQL (`export-csv.ts`), after `head`, written as they arrive (in the
 * pieces the connection reads). Resolves to their count, which COPY reports after its last row: read it
 * once the next query on the connection is answered.
 */
async function copyRows(
  client: PoolClient,
  runId: number,
  outcomes: readonly string[] | undefined,
  columns: readonly ExportColumn[],
  head: string,
  write: (piece: string | Buffer) => Promise<void>,
): Promise<() => number> {
  const copy = client.query(await exportCsvQuery(client, runId, outcomes, columns));
  try {
    await write(head);
    for await (const piece of copy as AsyncIterable<Buffer>) await write(piece);
  } finally {
    if (!copy.destroyed) copy.destroy();
  }
  return () => copy.rowCount;
}

async function writeRows(
  pool: Pool,
  runId: number,
  outcomes: readonly string[] | undefined,
  format: ExportFormat,
  sources: readonly Source[],
  input: InputCells | undefined,
  out: Writable,
): Promise<number> {
  let outFailure: Error | undefined;
  const onOutError = (err: Error) => {
    outFailure ??= err;
  };
  out.on('error', onOutError);
  const failed = () =>
    outFailure ?? (out.destroyed && !out.writableFinished ? new Error('the output was closed') : undefined);
  const write = (piece: string | Buffer) => writePiece(out, piece, failed);
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    // One snapshot for the three tables; enough memory for the sort that puts them in line order. No
    // JIT: the profile lookups make the plan look costly enough to compile, which took longer (0.3–0.5 s
    // of the server's CPU) than running it uncompiled.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off");
    const head = format === 'csv' ? sources.map((s) => textCell(s.name)).join(',') + '\n' : '';
    const own = ownColumns(sources);
    // CSV of the ledger's columns is PostgreSQL's to encode, unless a row is one cell (`export-csv.ts`);
    // the input's cells and JSON Lines are encoded here.
    const counted =
      format === 'csv' && own !== undefined && own.length > 1
        ? await copyRows(client, runId, outcomes, own, head, write)
        : await encodeRows(client, runId, outcomes, format, sources, input, head, write);
    await client.query('COMMIT');
    if (out !== process.stdout) {
      await new Promise<void>((resolve, reject) => {
        out.end(() => {
          const e = failed();
          if (e) reject(e);
          else resolve();
        });
      });
    }
    const e = failed();
    if (e) throw e;
    return counted();
  } catch (err) {
    broken ??= err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    out.off('error', onOutError);
    await input?.close().catch(() => undefined);
    client.removeListener('error', onError);
    // A cursor or COPY stopped half way leaves the connection in the middle of a query: it is not reused.
    client.release(broken);
  }
}
