/**
 * A run told back row by row: one output row for every input row of the run, in input order, with its
 * line, number, outcome and the profile of its number (`db/sql/export-rows.ts`), as CSV or JSON Lines.
 * For a CSV run the input's own cells come first when its file is given again (`inputFile`), checked
 * against the SHA-256 stored at import. Rows stream from a cursor to the output, so memory stays flat
 * whatever the run's size; they are encoded here (the rejects file's formula guard and quoting)
 * and written in pieces of 64 KiB, since a write per row cost more than the rest of the export.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool } from '../db/pool.js';
import type { RunForExport } from '../db/sql/run-for-export.js';
import { runForExport } from '../db/sql/run-for-export.js';
import type { ExportRow } from '../db/sql/export-rows.js';
import { EXPORT_ROW_COLUMNS, exportRowsQuery } from '../db/sql/export-rows.js';
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
async function writePiece(out: Writable, text: string, failed: () => Error | undefined): Promise<void> {
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
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  let count = 0;
  try {
    // One snapshot for the three tables; enough memory for the sort that puts them in line order.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query("SET LOCAL work_mem = '64MB'");
    const encode = format === 'csv' ? csvLine : jsonLine;
    let text = format === 'csv' ? sources.map((s) => textCell(s.name)).join(',') + '\n' : '';
    const rows = client.query(exportRowsQuery(runId, { outcomes }));
    try {
      for await (const row of rows as AsyncIterable<ExportRow>) {
        count++;
        text += encode(sources, row, input ? await input.cellsAt(Number(row[0])) : undefined);
        if (text.length >= PIECE_CHARS) {
          await writePiece(out, text, failed);
          text = '';
        }
      }
    } finally {
      if (!rows.destroyed) rows.destroy();
    }
    if (text !== '') await writePiece(out, text, failed);
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
    return count;
  } catch (err) {
    broken ??= err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    out.off('error', onOutError);
    await input?.close().catch(() => undefined);
    client.removeListener('error', onError);
    // A cursor stopped half way leaves the connection in the middle of a query: it is not reused.
    client.release(broken);
  }
}
