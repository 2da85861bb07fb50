/**
 * The rejects file: one CSV row per input row that was not a valid number, so a user can fix and re-import.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { AppError } from '../errors.js';

export interface Reject {
  /** 1-based line of the input file where the row starts. */
  line: number;
  /** The cell as read from the input. */
  raw: string;
  /** Why it was rejected, e.g. `too short`. */
  reason: string;
}

export interface RejectsWriter {
  /** Appends one row; resolves once the file stream can take more (backpressure). */
  write(reject: Reject): Promise<void>;
  /** Flushes and closes the file; idempotent. Rejects with `AppError('INPUT_FILE')` if any write failed. */
  close(): Promise<void>;
  /** Rows written so far. */
  readonly count: number;
}

/**
 * Creates (or truncates) a CSV file with the header `line,raw,reason` and returns a writer for it.
 *
 * Cells are quoted when they hold a comma, a quote or a line break. A cell beginning with `=`, `+`, `-`,
 * `@`, a tab or a carriage return gets a single quote `'` prepended (csv-stringify's `escape_formulas`, after
 * OWASP's CSV injection advice) so a spreadsheet shows it instead of evaluating it: `+86 138…` is written as
 * `'+86 138…`. Apart from that prefix, `raw` is written verbatim.
 *
 * A failure to open or write the file (missing directory, no permission, full disk) surfaces as
 * `AppError('INPUT_FILE', 'cannot write rejects file <path>: …')` from the next `write()`, or from `close()`.
 */
export function createRejectsWriter(path: string): RejectsWriter {
  const stringifier = stringify({ header: true, columns: ['line', 'raw', 'reason'], escape_formulas: true });
  let failure: AppError | undefined;
  const finished: Promise<void> = pipeline(stringifier, createWriteStream(path)).catch((err: unknown) => {
    failure ??= new AppError('INPUT_FILE', `cannot write rejects file ${path}: ${writeReason(err)}`, {
      cause: err,
    });
  });
  let count = 0;
  let closing: Promise<void> | undefined;

  return {
    get count() {
      return count;
    },

    async write(reject: Reject): Promise<void> {
      if (failure) throw failure;
      if (closing) throw new Error(`rejects file ${path} is already closed`);
      count++;
      if (!stringifier.write([reject.line, reject.raw, reject.reason])) {
        // 'drain' never comes once the pipeline has failed, so wait for whichever happens first.
        await Promise.race([once(stringifier, 'drain').catch(() => undefined), finished]);
      }
      if (failure) throw failure;
    },

    close(): Promise<void> {
      closing ??= (async () => {
        stringifier.end();
        await finished;
        if (failure) throw failure;
      })();
      return closing;
    },
  };
}

function writeReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'its directory does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
