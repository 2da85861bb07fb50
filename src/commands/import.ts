import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { durationArg, priorityArg, priorityHelp, spaceArg } from '../cli-options.js';
import { constants, fstatSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { DEFAULT_MAX_AGE, DEFAULT_MAX_AGE_MS } from '../duration.js';
import { AppError, fileErrorReason } from '../errors.js';
import { abortAbandonedImports } from '../db/import-liveness.js';
import { openLedgerAndQueue } from '../connections.js';
import { feedNewRun } from './new-run.js';
import { Resources } from '../resources.js';
import { importCsv, validateImportOptions } from '../runs/csv-import.js';
import { checkRejectsPath } from '../sources/rejects-writer.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';
import { waitForRun } from './progress.js';

function delimiterArg(value: string): string {
  const d = value === 'tab' || value === '\\t' ? '\t' : value;
  if ([...d].length !== 1 || d === '"' || d === '\n' || d === '\r') {
    throw new InvalidArgumentError('--delimiter must be one character (not a quote or a line break), or tab');
  }
  return d;
}

export const importDefinition = () =>
  new Command('import')
    .description('stream a CSV of phone numbers into a new run; prints the run id')
    .argument('<file.csv>', 'CSV with a header row (- reads standard input)')
    .option('--space <ID>', 'CustSpaceId for every row', spaceArg)
    .option('--space-column <NAME>', 'header of a per-row CustSpaceId column')
    .option(
      '--phone-column <NAME>',
      'header of the phone column (default: phone, phone number, mobile, tel, ... ignoring case)',
    )
    .option('--default-country <CC>', 'ISO 3166 alpha-2 country for numbers without a country code')
    .option(
      '--delimiter <CHAR>',
      'field delimiter: one character, or tab (default: , ; or tab, from the header line)',
      delimiterArg,
    )
    .option('--encoding <NAME>', "the file's encoding, e.g. windows-1252, gb18030, utf-16le (default: utf-8)")
    .option('--rejects <FILE>', 'write invalid rows (line, raw value, reason) to this CSV')
    .option(
      '--max-age <DURATION>',
      `skip numbers fetched more recently than this (0 forces a refresh; default ${DEFAULT_MAX_AGE})`,
      durationArg('--max-age'),
    )
    .option('--priority <LEVEL>', priorityHelp('normal'), priorityArg)
    .option('--wait', 'show progress until the run is finished')
    .option('--json', 'print JSON');
export type ImportFlags = FlagsOf<typeof importDefinition>;

export async function importCommand(file: string, opts: ImportFlags, ctx: CommandContext): Promise<ExitCode> {
  const maxAgeMs = opts.maxAge ?? DEFAULT_MAX_AGE_MS;
  validateImportOptions(opts);
  const stdin = file === '-';
  if (stdin) assertReadableStdin();
  else await assertReadableFile(file);
  if (opts.rejects !== undefined) await checkRejectsPath(opts.rejects, { input: stdin ? 0 : file });
  const res = new Resources();
  try {
    const ledger = await openLedgerAndQueue(res, ctx.config, ctx.log, 4);
    const { pool, queue } = ledger;
    await abortAbandonedImports(pool, ctx.log);
    const result = await importCsv(pool, ctx.log, {
      file,
      queue: ctx.config.queueName,
      space: opts.space,
      spaceColumn: opts.spaceColumn,
      phoneColumn: opts.phoneColumn,
      defaultCountry: opts.defaultCountry,
      rejectsFile: opts.rejects,
      delimiter: opts.delimiter,
      encoding: opts.encoding,
      input: stdin ? process.stdin : undefined,
      maxAgeMs,
      priority: opts.priority,
      signal: ctx.signal,
    });
    const status = await feedNewRun(ctx.config, ledger, ctx.log, result.runId);
    if (!opts.wait) {
      if (opts.json) ctx.out(JSON.stringify(status));
      else ctx.out(`run ${result.runId}`);
      ctx.err(
        `run ${result.runId}: ${status.total} rows, ${status.pending} to fetch, ${status.skipped} fresh, ${status.duplicate} duplicate, ${status.invalid} invalid${opts.rejects && status.invalid > 0 ? ` (see ${opts.rejects})` : ''}`,
      );
      return 0;
    }
    if (!opts.json) ctx.out(`run ${result.runId}`);
    const waited = await waitForRun(pool, queue, ledger.store, result.runId, ctx, {
      tty: Boolean(process.stderr.isTTY),
    });
    if (opts.json) ctx.out(JSON.stringify(waited.status));
    return waited.exitCode;
  } finally {
    await res.close();
  }
}

/**
 * What an input that cannot be read as CSV is, in words, or undefined when it can be read: a regular
 * file, or a pipe (a named pipe, a process substitution, a shell pipe), which is read as a stream.
 */
function unreadableKind(s: Stats): string | undefined {
  if (s.isFile() || s.isFIFO()) return undefined;
  if (s.isDirectory()) return 'it is a directory';
  if (s.isCharacterDevice()) return 'it is a character device (such as /dev/zero or a terminal), not a file';
  if (s.isBlockDevice()) return 'it is a block device, not a file';
  if (s.isSocket()) return 'it is a socket, not a file';
  return 'it is not a regular file';
}

/** A missing or unreadable file is bad input (exit 2), found before any service is touched. */
async function assertReadableFile(file: string): Promise<void> {
  let kind: string | undefined;
  try {
    await access(file, constants.R_OK);
    kind = unreadableKind(await stat(file));
  } catch (err) {
    throw new AppError('INPUT_FILE', `cannot read ${file}: ${fileErrorReason(err, 'read')}`, { cause: err });
  }
  if (kind !== undefined) throw new AppError('INPUT_FILE', `cannot read ${file}: ${kind}`);
}

/** Standard input redirected from a directory (`import - < /tmp`) is said to be one, not "empty". */
function assertReadableStdin(): void {
  let s: Stats;
  try {
    s = fstatSync(0);
  } catch {
    return; // no standard input at all: the import says so itself
  }
  const kind = s.isDirectory() ? 'it is a directory' : undefined;
  if (kind !== undefined) throw new AppError('INPUT_FILE', `cannot read standard input: ${kind}`);
}

export const commandLine: CommandLine = (host) =>
  importDefinition().action(async (file, opts) => host.exit(await importCommand(file, opts, host.context())));
