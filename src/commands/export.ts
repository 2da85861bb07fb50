/**
 * `cams-enrich export --run ID`: every input row of the run, in input order, with its outcome and profile,
 * as CSV or JSON Lines, to a file (written whole, then renamed into place) or to standard output.
 */
import type { Writable } from 'node:stream';
import { Command, Option } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { runIdArg } from '../cli-options.js';
import { AppError } from '../errors.js';
import { openDatabase } from '../database-connection.js';
import { Resources } from '../resources.js';
import type { ExportFormat } from '../runs/export-run.js';
import { EXPORT_COLUMNS, prepareExport } from '../runs/export-run.js';
import { openOutputFile } from '../sources/output-file.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const exportDefinition = () =>
  new Command('export')
    .description('every input row of a run, in input order, with its outcome and profile columns')
    .requiredOption('--run <ID>', 'the run', runIdArg)
    .addOption(new Option('--format <FORMAT>', 'csv or jsonl (default csv)').choices(['csv', 'jsonl']))
    .option('--output <FILE>', 'write to this file (default, or -: standard output)')
    .option(
      '--columns <LIST>',
      `comma-separated columns, in this order (default: the input's own with --input, then ${EXPORT_COLUMNS.join(', ')})`,
    )
    .option('--input <FILE>', "the run's input CSV file again: its own cells come first in each row");
export type ExportFlags = FlagsOf<typeof exportDefinition, 'run'>;

/** Where the export goes when it is not a file: standard output, unless a test passes its own. */
export interface ExportStreams {
  stdout?: Writable;
}

export async function exportCommand(
  opts: ExportFlags,
  ctx: CommandContext,
  streams: ExportStreams = {},
): Promise<ExitCode> {
  const runId = opts.run;
  const columns = opts.columns?.split(',').map((c) => c.trim());
  if (columns?.some((c) => c === '')) throw new AppError('USAGE', '--columns must not name an empty column');
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 2, { readOnly: true });
    const prepared = await prepareExport(pool, {
      runId,
      format: opts.format as ExportFormat | undefined,
      columns,
      inputFile: opts.input,
    });
    if (opts.output === undefined || opts.output === '-') {
      const stdout = streams.stdout ?? process.stdout;
      try {
        await prepared.write(stdout);
      } catch (err) {
        // The reader stopped (`| head`): what it wanted is written; nothing to report.
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0;
        throw err;
      }
      return 0;
    }
    const protect = [
      ...(prepared.run.input?.path
        ? [{ path: prepared.run.input.path, what: `the input of run ${runId}` }]
        : []),
      ...(opts.input !== undefined ? [{ path: opts.input, what: 'the --input file' }] : []),
    ];
    const file = await openOutputFile(opts.output, { protect });
    let rows: number;
    try {
      rows = await prepared.write(file.stream);
      await file.commit();
    } catch (err) {
      await file.discard();
      throw err;
    }
    ctx.err(`exported ${rows} rows of run ${runId} to ${opts.output}`);
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  exportDefinition().action(async (flags) => host.exit(await exportCommand(flags, host.context())));
