/**
 * Rows from any source become a run: each row is normalised and recorded in batches (the run stays
 * `importing`, nothing queued), then the run is marked ready for the feeder. The CSV file and the
 * database are both row sources of this one path. Bad input aborts the run with every accepted row failed
 * as IMPORT_ABORTED, so nothing is silently lost.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Pool } from '../db/pool.js';
import type { AcceptedRow, RejectedRow, RunInput, RunPriority } from '../db/runs.js';
import type { LiveRun } from '../db/import-liveness.js';
import { createLiveRun } from '../db/import-liveness.js';
import type { ImportRecorder } from '../db/import-recorder.js';
import { openImportRecorder } from '../db/import-recorder.js';
import { abortRun, markReady, recordRunInput } from '../db/runs.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { normalisePhone } from '../phone.js';
import { StoppedError, stopError, untilStopped } from './stop.js';
import { spaceProblem } from '../space.js';

export { MAX_SPACE_LENGTH, spaceProblem } from '../space.js';
import type { RejectsWriter } from '../sources/rejects-writer.js';
import { openRejectsWriter } from '../sources/rejects-writer.js';

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
  /**
   * Where invalid rows are written (line, raw, reason), through a temporary file renamed at the end. It is
   * checked before the run is created: never the input, never an existing file that is not a rejects file.
   * Default: none (they are still in run_rejects).
   */
  rejectsFile?: string | undefined;
  /** The input as a path or a file descriptor, which `rejectsFile` must not be. Default: none. */
  inputFile?: string | number | undefined;
  /** Numbers fetched more recently than this are skipped; 0 always fetches. */
  maxAgeMs: number;
  /** The run's share of the quota: `high` runs go before `normal` ones, `normal` before `low`. Default `normal`. */
  priority?: RunPriority | undefined;
  /**
   * Rows per transaction (one COPY and one merge each). Default 5000: rows held for a shorter time die
   * young, which keeps a large file's peak RSS lower.
   */
  batchSize?: number | undefined;
  /** A batch is also recorded once its text reaches this many characters. Default 1 MiB. */
  batchChars?: number | undefined;
  /**
   * Aborting it stops the import at once, even while the source keeps it waiting for a row: the rows
   * read so far are recorded and the run is aborted like on bad input (none is created when no row
   * was read). The reason, when it is an `AppError` (a deadline, a lost source), is the error thrown,
   * with the run's fate added; any other reason is an interruption (the first Ctrl-C):
   * `AppError('INTERRUPTED')`. Default: none.
   */
  signal?: AbortSignal | undefined;
  /**
   * Called once every row was read: what the run keeps of its input file (its hash, path, reading
   * options), for `export --input`. Default: nothing kept (a database run).
   */
  describeInput?: (() => RunInput) | undefined;
  /**
   * Whether the source ends by itself when `signal` fires, handing over the rows it holds (the CSV
   * source does): reads are then not cut short, and every row it hands over is counted before the
   * run is aborted. Default false: each read is given up at once when `signal` fires.
   */
  sourceEndsOnStop?: boolean | undefined;
}

/**
 * Rows read between two turns of the event loop. A source often has its next rows buffered already, and
 * reading them never leaves the microtask queue: without a turn now and then, the recorder's connections
 * would wait for this loop to hear that a statement finished, and PostgreSQL would idle.
 */
const ROWS_PER_TURN = 256;

/** Longest `raw` kept in run_rejects; a longer cell is cut and marked (the rejects file keeps it whole). */
export const MAX_STORED_RAW = 1000;

/**
 * Text as PostgreSQL stores it: NUL (which a text column refuses) becomes U+2400 `␀`, and a value longer
 * than `max` is cut with the marker `… [N characters]` giving the original length.
 */
export function storableText(text: string, max = MAX_STORED_RAW): string {
  let out = text.includes('\0') ? text.replace(/\0/g, '\u2400') : text;
  if (out.length > max) {
    let cut = max;
    const c = out.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut -= 1;
    // A copy, not a slice: V8 keeps the whole original alive behind a slice of it.
    out = `${Buffer.from(out.slice(0, cut)).toString()}… [${text.length} characters]`;
  }
  return out;
}

export interface ImportResult {
  runId: number;
  /** Rows read (every one is counted in the run's `total`). */
  rows: number;
  invalid: number;
  /**
   * Accepted numbers written as bare digits (no `+`, no `00`) and read as international, per calling
   * code (`{"86": 120}`); also told once in a warning.
   */
  readAsInternational: Record<string, number>;
}

/** Normalises and records every row of `options.rows` as a new run, then marks it ready. */
export async function importRows(pool: Pool, log: Logger, options: ImportOptions): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 5000;
  const batchChars = options.batchChars ?? 1024 * 1024;
  const spaceLabel = options.spaceColumnLabel ?? 'space';
  const fixedSpace = options.space?.trim();
  const iterator = options.rows[Symbol.asyncIterator]();
  // The rejects path is checked and its temporary file created before anything is read or recorded.
  let rejects: RejectsWriter | undefined;
  if (options.rejectsFile) {
    rejects = await openRejectsWriter(options.rejectsFile, { input: options.inputFile });
  }
  const read = () =>
    options.sourceEndsOnStop ? iterator.next() : untilStopped(iterator.next(), options.signal);
  let first: IteratorResult<SourceRow>;
  let live: LiveRun;
  try {
    first = await read().catch((err: unknown) => {
      throw err instanceof StoppedError || options.signal?.aborted
        ? stopError(options.signal, undefined)
        : err;
    });
    // The run's liveness mark: held while this process imports, so a killed importer's run is aborted.
    live = await createLiveRun(pool, {
      queue: options.queue,
      source: options.source,
      maxAgeMs: options.maxAgeMs,
      priority: options.priority,
      space: fixedSpace || undefined,
    });
  } catch (err) {
    await rejects?.discard();
    throw err;
  }
  const runId = live.runId;
  const interrupted = () => {
    if (options.signal?.aborted) throw stopError(options.signal, runId);
  };
  const runLog = log.child({ run: runId });
  let accepted: AcceptedRow[] = [];
  let rejected: RejectedRow[] = [];
  let chars = 0;
  let count = 0;
  let invalid = 0;
  const readAsInternational: Record<string, number> = {};
  let recorder: ImportRecorder | undefined;
  const flush = async () => {
    live.assertAlive();
    recorder ??= await openImportRecorder(pool, runId);
    const chunk = [accepted, rejected] as const;
    accepted = [];
    rejected = [];
    chars = 0;
    await recorder.record(...chunk);
  };
  try {
    for (let next = first; !next.done; next = await read()) {
      const row = next.value;
      count += 1;
      if (count % ROWS_PER_TURN === 0) await nextTurn();
      const space = fixedSpace ?? row.space?.trim() ?? '';
      const phone = normalisePhone(row.phone, options.defaultCountry);
      const badSpace = phone.ok ? spaceProblem(space) : undefined;
      if (phone.ok && badSpace === undefined) {
        accepted.push({ line: row.line, custSpaceId: space, phoneNumber: phone.phone });
        if (phone.bareCallingCode !== undefined) {
          readAsInternational[phone.bareCallingCode] = (readAsInternational[phone.bareCallingCode] ?? 0) + 1;
        }
        chars += space.length + phone.phone.length;
      } else {
        const reason = phone.ok
          ? badSpace === 'empty'
            ? `empty ${spaceLabel} (CustSpaceId)`
            : `${spaceLabel} (CustSpaceId) ${badSpace}`
          : phone.reason;
        const raw = storableText(row.phone);
        rejected.push({ line: row.line, raw, reason });
        chars += raw.length + reason.length;
        invalid += 1;
        await rejects?.write({ line: row.line, raw: row.phone, reason });
      }
      if (accepted.length + rejected.length >= batchSize || chars >= batchChars) await flush();
      // Checked once the row is counted: every row handed over by the source is in the run.
      if (!options.sourceEndsOnStop) interrupted();
    }
    interrupted();
    await flush();
    await recorder?.close();
    await rejects?.close();
    live.assertAlive();
    if (options.describeInput) await recordRunInput(pool, runId, options.describeInput());
    if (!(await markReady(pool, runId)))
      throw new AppError('RUN_CANCELLED', `run ${runId} was cancelled: the import stops`);
  } catch (caught) {
    // A stop (or a source that failed and said so through the signal) ends with the stop's reason.
    const err =
      caught instanceof StoppedError || options.signal?.aborted ? stopError(options.signal, runId) : caught;
    const cancelled = (err as { code?: unknown }).code === 'RUN_CANCELLED';
    // Rows read before the failure are recorded too, so the abort below fails them instead of losing
    // them; a cancelled run takes no more rows.
    if (!cancelled)
      await flush().catch((e: unknown) =>
        runLog.error({ err: e }, 'could not record the rows read before the failure'),
      );
    await recorder?.close().catch(() => undefined);
    await rejects?.close().catch(() => undefined);
    const message = storableText(err instanceof Error ? err.message : String(err));
    await abortRun(pool, runId, message).catch((e: unknown) =>
      runLog.error({ err: e }, 'could not abort the run'),
    );
    if (cancelled) runLog.warn('run cancelled; the import stopped and what it had recorded is cancelled');
    else runLog.error({ code: (err as { code?: string }).code }, 'import aborted; its rows were not queued');
    throw err;
  } finally {
    await live.release();
  }
  runLog.info({ rows: count, invalid }, 'import recorded');
  warnReadAsInternational(runLog, readAsInternational);
  return { runId, rows: count, invalid, readAsInternational };
}

/** One warning for the run: how many bare numbers were taken as international, per calling code. */
function warnReadAsInternational(log: Logger, counts: Record<string, number>): void {
  const codes = Object.keys(counts).sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || a.localeCompare(b));
  if (codes.length === 0) return;
  const total = codes.reduce((sum, code) => sum + (counts[code] ?? 0), 0);
  const each = codes.map((code) => `+${code}: ${counts[code]}`).join(', ');
  log.warn(
    { readAsInternational: counts },
    `${total} ${total === 1 ? 'number' : 'numbers'} without + or 00 read as international (${each}); if they are national numbers, import again with --default-country`,
  );
}
