/**
 * The CSV source: streams the phone (and optional space) cell of every record of a CSV file (or of standard
 * input), with the line the record starts on, in constant memory whatever the file's size.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { CsvError, Options } from 'csv-parse';
import { AppError, fileErrorReason } from '../errors.js';
import { openTextInput } from './text-input.js';

export interface CsvSourceOptions {
  /**
   * Header of the phone column, matched after trimming, then also ignoring case, then also ignoring spaces,
   * `_`, `-` and `.` (`Phone Number` finds `phone_number`).
   * Default: the first of `DEFAULT_PHONE_HEADERS` present, compared ignoring case, spaces, `_`, `-` and `.`.
   */
  phoneColumn?: string | undefined;
  /** Header of a per-row CustSpaceId column, matched like `phoneColumn`. Default: none (no `space` in rows). */
  spaceColumn?: string | undefined;
  /** Field delimiter. Default: `,`, `;` or tab, whichever the header line holds most of (`,` on a tie). */
  delimiter?: string | undefined;
  /** The file's encoding (a WHATWG label such as `windows-1252`). Default: UTF-8, checked byte by byte. */
  encoding?: string | undefined;
  /** Read this stream instead of opening `file` (standard input); `file` then names it in messages. */
  input?: Readable | undefined;
  /** Called with every chunk of the input's bytes as read (to hash it). Default: none. */
  onBytes?: ((chunk: Buffer) => void) | undefined;
  /** Called with the header record (its cells as written) before the first row. Default: none. */
  onHeader?: ((headers: string[]) => void) | undefined;
  /** Each row also carries all its cells (`CsvRow.cells`). Default false. */
  cells?: boolean | undefined;
  /**
   * Aborting it ends the input where it is (a stalled pipe too): the records already read come out,
   * the last one included, then the rows end. Default: none.
   */
  signal?: AbortSignal | undefined;
}

export interface CsvRow {
  /** 1-based line of the file where the record starts (the header is line 1, so data usually starts at 2). */
  line: number;
  /** The phone cell as written, untrimmed ('' when the row is too short to have it). */
  phone: string;
  /** The space cell as written, present only when `spaceColumn` is set ('' when the row is too short). */
  space?: string;
  /** Every cell of the record as written, present only with the `cells` option. */
  cells?: string[];
}

/**
 * Header names tried, in this order, when no phone column is named; each matches ignoring case, spaces,
 * `_`, `-` and `.` (so `phone_number` also finds `Phone Number` and `PhoneNumber`).
 */
export const DEFAULT_PHONE_HEADERS: readonly string[] = [
  'phone',
  'phone_number',
  'mobile',
  'mobile_phone',
  'mobile_number',
  'cell_phone',
  'cell',
  'tel',
  'telephone',
  'msisdn',
  'whatsapp',
];

/** Delimiters recognised in a header line when none is given, in their order of preference on a tie. */
export const DELIMITERS: readonly string[] = [',', ';', '\t'];

/**
 * A record longer than this many characters is reported as malformed rather than buffered: it is almost
 * always an unclosed quote swallowing the rest of the file.
 */
const MAX_RECORD_SIZE = 1024 * 1024;

/**
 * Reads the rows of a CSV file with a header row. Rows are yielded as they are parsed; breaking out of the
 * loop closes the file. Empty lines are skipped; short and long rows are yielded as they are. A `"` inside
 * a cell that does not start with one is read as text.
 *
 * Throws (from the iterator) `AppError` with code `INPUT_FILE` when the file cannot be read, is not text
 * or not UTF-8 (`<file>:<line>: …`, after every row before that line has been yielded),
 * `CSV_NO_PHONE_COLUMN` when no phone column is found, `USAGE` when `spaceColumn` is not a header, and
 * `CSV_MALFORMED` (`<file>:<line>: <reason> (<csv-parse code>)`, csv-parse's error as `cause`) on bad CSV,
 * after every row before the malformed record has been yielded.
 *
 * Line numbers are counted here, record by record, from each record's raw text (a line break is `\r\n`,
 * `\n` or a lone `\r`), because csv-parse's own `info.lines` is the line where a record ends, and counts a
 * `\r\n` inside a quoted cell as two lines. The raw text of a record holds the first character of the line
 * breaks of the empty lines skipped before it and of its own terminator. A bad record's line is known once
 * every record before it has been read: csv-parse's error says how many records and empty lines came first.
 */
export async function* readCsvRows(file: string, options: CsvSourceOptions = {}): AsyncIterable<CsvRow> {
  /** Where the next record starts, before any empty lines that precede it. */
  let nextLine = 1;
  /** Empty lines skipped before the records read so far. */
  let emptyLines = 0;
  let columns: { phone: number; space: number | undefined } | undefined;
  /** The first bad record: csv-parse's error, and how many records it had parsed before it. */
  let bad: { err: CsvError; recordsBefore: number } | undefined;

  const source = options.input ?? createReadStream(file);
  let endInput = () => void source.destroy();
  const onAbort = () => endInput();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let text;
  try {
    text = await openTextInput(source, { name: file, encoding: options.encoding, onBytes: options.onBytes });
  } catch (err) {
    options.signal?.removeEventListener('abort', onAbort);
    source.destroy();
    if (err instanceof AppError) throw err;
    throw new AppError('INPUT_FILE', `cannot read ${file}: ${fileErrorReason(err, 'read')}`, { cause: err });
  }
  const delimiter = options.delimiter ?? detectDelimiter(text.firstLine);
  const bytes = Readable.from(text.chunks, { objectMode: false });
  const parseOptions: Options = {
    bom: true,
    delimiter,
    // Any line end, mixed in one file too: the line count below counts the same three.
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_RECORD_SIZE,
    // Each record comes with its raw text, which the line count below reads. (No `on_record` or `info`:
    // csv-parse builds an info object for every record then, which doubled the cost of parsing.)
    raw: true,
    // Errors arrive here rather than as a stream error, which would drop the rows still buffered before it.
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      if (bad !== undefined || err === undefined) return undefined;
      bad = { err, recordsBefore: typeof err.records === 'number' ? err.records : Number.MAX_SAFE_INTEGER };
      // Stop reading; the parser ends once it has handed over what it parsed before the error.
      bytes.unpipe(parser);
      bytes.destroy();
      source.destroy();
      parser.end();
      return undefined;
    },
  };
  const parser = parse(parseOptions);
  bytes.on('error', (err) => {
    parser.destroy(
      err instanceof AppError
        ? err
        : new AppError('INPUT_FILE', `cannot read ${file}: ${fileErrorReason(err, 'read')}`, { cause: err }),
    );
  });
  bytes.pipe(parser);
  // Ending the parser's input makes it hand over the record it holds back while it waits to see
  // whether a line break goes on (`\r` then `\n`).
  endInput = () => {
    bytes.unpipe(parser);
    bytes.destroy();
    source.destroy();
    parser.end();
  };
  if (options.signal?.aborted) endInput();

  let records = 0;
  try {
    for await (const { record, raw } of parser as AsyncIterable<{ record: string[]; raw: string }>) {
      // Records the parser went on with after a bad one are not read.
      if (bad !== undefined && records >= bad.recordsBefore) break;
      records += 1;
      const skipped = leadingLineBreaks(raw);
      const line = nextLine + skipped;
      emptyLines += skipped;
      nextLine += countLineBreaks(raw);
      if (columns === undefined) {
        columns = findColumns(file, line, record, options);
        options.onHeader?.(record);
        continue;
      }
      const row: CsvRow = { line, phone: record[columns.phone] ?? '' };
      if (columns.space !== undefined) row.space = record[columns.space] ?? '';
      if (options.cells) row.cells = record;
      yield row;
    }
  } catch (err) {
    const failure = text.failure();
    if (failure !== undefined) throw failure;
    if (err instanceof AppError) throw err;
    throw new AppError('INPUT_FILE', `cannot read ${file}: ${fileErrorReason(err, 'read')}`, { cause: err });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    bytes.destroy();
    source.destroy();
    parser.destroy();
  }
  const failure = text.failure();
  if (failure !== undefined) throw failure;
  if (bad !== undefined) {
    const { err } = bad;
    const skipped = typeof err.empty_lines === 'number' ? err.empty_lines - emptyLines : 0;
    const message = `${file}:${nextLine + skipped}: ${csvReason(err.message)} (${err.code})`;
    throw new AppError('CSV_MALFORMED', message, { cause: err });
  }
  if (columns === undefined) {
    throw new AppError(
      'CSV_NO_PHONE_COLUMN',
      `${file}:1: the file is empty: a header row naming the phone column (${DEFAULT_PHONE_HEADERS.join(', ')} ` +
        `or the one given with --phone-column) is required`,
    );
  }
}

/**
 * The delimiter of a header line: whichever of `,`, `;` and tab occurs most often outside quotes (`,` when
 * none does or on a tie).
 */
export function detectDelimiter(headerLine: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const c of headerLine) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && counts.has(c)) counts.set(c, counts.get(c)! + 1);
  }
  let best = DELIMITERS[0]!;
  for (const d of DELIMITERS) if (counts.get(d)! > counts.get(best)!) best = d;
  return best;
}

function findColumns(
  file: string,
  headerLine: number,
  headerRecord: string[],
  options: CsvSourceOptions,
): { phone: number; space: number | undefined } {
  const headers = headerRecord.map((h) => h.trim());
  const wanted = options.phoneColumn === undefined ? DEFAULT_PHONE_HEADERS : [options.phoneColumn];
  const phone = findHeader(headers, wanted);
  if (phone === undefined) {
    const hint =
      options.phoneColumn === undefined
        ? `none of ${DEFAULT_PHONE_HEADERS.join(', ')} was found; name it with --phone-column`
        : `--phone-column ${JSON.stringify(options.phoneColumn)} was not found`;
    throw new AppError(
      'CSV_NO_PHONE_COLUMN',
      `${file}:${headerLine}: no phone column: ${hint} (headers: ${list(headers)})`,
    );
  }
  let space: number | undefined;
  if (options.spaceColumn !== undefined) {
    space = findHeader(headers, [options.spaceColumn]);
    if (space === undefined) {
      throw new AppError(
        'USAGE',
        `${file}:${headerLine}: --space-column ${JSON.stringify(options.spaceColumn)} is not a column (headers: ${list(headers)})`,
      );
    }
  }
  return { phone, space };
}

/**
 * Index of the header matching one of `names`, the first name found winning: equal after trimming, else
 * also ignoring case, else also ignoring spaces, `_`, `-` and `.`.
 */
function findHeader(headers: readonly string[], names: readonly string[]): number | undefined {
  const folds = [
    (h: string) => h.trim(),
    (h: string) => h.trim().toLowerCase(),
    (h: string) => h.toLowerCase().replace(/[\s_.-]+/g, ''),
  ];
  const folded = folds.map((fold) => headers.map(fold));
  for (const name of names) {
    for (const [k, fold] of folds.entries()) {
      const wanted = fold(name);
      const i = wanted === '' ? -1 : folded[k]!.indexOf(wanted);
      if (i !== -1) return i;
    }
  }
  return undefined;
}

function list(headers: readonly string[]): string {
  const MAX = 30;
  const shown = headers.slice(0, MAX).map((h) => JSON.stringify(h));
  if (headers.length > MAX) shown.push(`and ${headers.length - MAX} more`);
  return shown.join(', ');
}

/**
 * Empty lines skipped before a record: its raw text starts with the first character of each one's line
 * break (a record itself never starts with one).
 */
function leadingLineBreaks(raw: string): number {
  let n = 0;
  while (n < raw.length && (raw.charCodeAt(n) === 10 || raw.charCodeAt(n) === 13)) n++;
  return n;
}

/** Line breaks in a record's raw text: `\r\n`, `\n` and a lone `\r` each count once. */
function countLineBreaks(raw: string): number {
  let breaks = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 10) breaks++;
    else if (c === 13 && raw.charCodeAt(i + 1) !== 10) breaks++;
  }
  return breaks;
}

/**
 * csv-parse's message without its own line count (which is where the record ends, not where it starts),
 * fields counted from 1 as a user counts them, and a quoted value cut short.
 */
function csvReason(message: string): string {
  return message
    .replace(/ (?:at|on) line \d+/g, '')
    .replace(/field (\d+)/g, (_, n: string) => `field ${Number(n) + 1}`)
    .replace(/value is ("(?:[^"\\]|\\.)*")/, (_, v: string) =>
      v.length > 80 ? `value is ${v.slice(0, 80)}…"` : `value is ${v}`,
    );
}
