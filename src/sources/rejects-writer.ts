/**
 * The rejects file: one CSV row per input row that was not a valid number, so a user can fix and re-import.
 * It is written to a temporary file beside its destination and renamed into place when the import ends, and
 * it never replaces the input or any file that is not a previous rejects file.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { RejectedRow } from '../db/runs.js';
import { AppError, fileWriteError } from '../errors.js';
import { checkOutputPath } from './output-file.js';

export interface RejectsWriter {
  /** Appends one row; resolves once the file stream can take more (backpressure). */
  write(reject: RejectedRow): Promise<void>;
  /**
   * Flushes the rows and renames the temporary file onto the destination; idempotent. Rejects with
   * `fileWriteError` if any write failed (the temporary file is then removed).
   */
  close(): Promise<void>;
  /** Stops writing and removes the temporary file, leaving the destination as it was; idempotent. */
  discard(): Promise<void>;
  /** Rows written so far. */
  readonly count: number;
}

export interface RejectsFileOptions {
  /**
   * The input being imported, as a path or an open file descriptor (`0` for standard input): a rejects path
   * that is the same file (same device and inode, whatever the name or link) is refused. Default: none.
   */
  input?: string | number | undefined;
}

/** The header every rejects file starts with; an existing file starting with it may be replaced. */
export const REJECTS_HEADER = 'line,raw,reason';

/**
 * Checks that `path` may receive a rejects file, without writing anything: it must not be the input, an
 * existing file there must be empty or a previous rejects file (its first line `line,raw,reason`), and its
 * directory must exist, and it must not be a symbolic link or anything but a regular file (`/dev/stdout`
 * is a link), as for every file a command writes (`checkOutputPath`). Throws `AppError('OUTPUT_FILE')`
 * (exit 2) naming the path and the reason.
 */
export async function checkRejectsPath(path: string, options: RejectsFileOptions = {}): Promise<void> {
  // Standard input is protected by the file it was redirected from: /dev/fd/0 names it.
  const input =
    options.input === undefined
      ? []
      : [
          {
            path: typeof options.input === 'number' ? `/dev/fd/${options.input}` : options.input,
            what: 'the input file',
          },
        ];
  const existing = await checkOutputPath(path, { protect: input, what: 'rejects file' });
  if (existing !== undefined && existing.size > 0 && !(await startsWithRejectsHeader(path))) {
    throw new AppError(
      'OUTPUT_FILE',
      `cannot write rejects file ${path}: the file exists and is not a rejects file (its first line is not ${REJECTS_HEADER}); remove it or name another file`,
    );
  }
}

/**
 * Checks `path` (see `checkRejectsPath`), creates the temporary file beside it, writes the header
 * `line,raw,reason` and returns a writer. An unwritable directory fails here, before anything is read.
 *
 * Cells are quoted when they hold a comma, a quote or a line break. A `raw` cell beginning with `=`, `+`,
 * `-` or `@` (also after leading white space), a tab or a carriage return gets a single quote `'` prepended
 * (OWASP's CSV injection advice) so a spreadsheet shows it instead of evaluating it: `+86 138…` is written
 * as `'+86 138…`. Apart from that prefix, `raw` is written verbatim.
 *
 * A failure to write (full disk) surfaces as `AppError('WRITE_FAILED', 'cannot write rejects file <path>: …')`
 * (exit 1; `OUTPUT_FILE`, exit 2, when the path itself is at fault)
 * from the next `write()`, or from `close()`.
 */
export async function openRejectsWriter(
  path: string,
  options: RejectsFileOptions = {},
): Promise<RejectsWriter> {
  await checkRejectsPath(path, options);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx').catch((err: unknown) => {
    throw fileWriteError(err, `rejects file ${path}`);
  });
  const stringifier = stringify({ header: true, columns: REJECTS_HEADER.split(',') });
  let failure: AppError | undefined;
  const finished: Promise<void> = pipeline(stringifier, handle.createWriteStream()).catch((err: unknown) => {
    failure ??= fileWriteError(err, `rejects file ${path}`);
  });
  let count = 0;
  let closing: Promise<void> | undefined;
  const end = (keep: boolean) =>
    (closing ??= (async () => {
      stringifier.end();
      await finished;
      if (failure === undefined && keep) {
        await rename(temp, path).catch((err: unknown) => {
          failure = fileWriteError(err, `rejects file ${path}`);
        });
      }
      if (failure !== undefined || !keep) await unlink(temp).catch(() => undefined);
      if (failure && keep) throw failure;
    })());

  return {
    get count() {
      return count;
    },

    async write(reject: RejectedRow): Promise<void> {
      if (failure) throw failure;
      if (closing) throw new Error(`rejects file ${path} is already closed`);
      count++;
      if (!stringifier.write([reject.line, guardFormula(reject.raw), reject.reason])) {
        // 'drain' never comes once the pipeline has failed, so wait for whichever happens first.
        await Promise.race([once(stringifier, 'drain').catch(() => undefined), finished]);
      }
      if (failure) throw failure;
    },

    close: () => end(true),
    discard: () => end(false).catch(() => undefined),
  };
}

/** A cell a spreadsheet would read as a formula, even after leading white space. */
const FORMULA_START = /^(?:[\t\r]|\s*[=+\-@])/;

/**
 * `FORMULA_START` as a PostgreSQL regular expression (for `~`), for the export that PostgreSQL encodes
 * itself: JavaScript's `\s` spelt out (PostgreSQL's depends on the locale), the rest the same.
 */
export const FORMULA_START_SQL =
  '^(?:[\\t\\r]|[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]*[-=+@])';

/**
 * The cell with a single quote `'` prepended when a spreadsheet would read it as a formula (it begins
 * with `=`, `+`, `-` or `@`, also after leading white space, or with a tab or a carriage return).
 */
export function guardFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

async function startsWithRejectsHeader(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(REJECTS_HEADER.length + 2);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead).toString('latin1');
    return (
      head === REJECTS_HEADER ||
      head.startsWith(`${REJECTS_HEADER}\n`) ||
      head.startsWith(`${REJECTS_HEADER}\r\n`)
    );
  } finally {
    await handle.close();
  }
}
