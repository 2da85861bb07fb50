import type { EnqueueDbFlags } from '../cli/flags.js';
import type { Config } from '../config.js';
import { parseDuration } from '../duration.js';
import { AppError } from '../errors.js';
import { newRunCommand } from './new-run.js';
import type { DbImportOptions } from '../runs/db-import.js';
import { importFromDatabase, validateDbImport } from '../runs/db-import.js';
import type { DbSourceSpec } from '../sources/db-source.js';
import type { CommandContext, ExitCode } from './context.js';

/**
 * The import options the flags stand for, checked without touching a database (bad flags: exit 2).
 * Shared by the command and by schedules, which check a stored command with it when it is added.
 */
export function enqueueDbOptions(
  flags: EnqueueDbFlags,
  config: Pick<Config, 'databaseUrl' | 'queueName'>,
): DbImportOptions {
  let spec: DbSourceSpec;
  if (flags.query !== undefined) {
    const extra = (
      [
        ['--table', flags.table],
        ['--phone-column', flags.phoneColumn],
        ['--space-column', flags.spaceColumn],
        ['--where', flags.where],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (extra) throw new AppError('USAGE', `${extra[0]} cannot be used with --query (the query says it all)`);
    spec = { query: flags.query };
  } else {
    if (flags.table === undefined || flags.phoneColumn === undefined) {
      throw new AppError('USAGE', 'give --table NAME --phone-column COLUMN, or --query SQL');
    }
    spec = {
      table: flags.table,
      phoneColumn: flags.phoneColumn,
      spaceColumn: flags.spaceColumn,
      where: flags.where,
    };
  }
  const options: DbImportOptions = {
    queue: config.queueName,
    sourceUrl: flags.sourceUrl ?? config.databaseUrl,
    spec,
    space: flags.space,
    defaultCountry: flags.defaultCountry,
    maxAgeMs: parseDuration(flags.maxAge ?? '30d', '--max-age'),
  };
  validateDbImport(options);
  return options;
}

/** A run from a PostgreSQL table or query; prints the run id (JSON status with `--json`). */
export async function enqueueDbCommand(flags: EnqueueDbFlags, ctx: CommandContext): Promise<ExitCode> {
  const options = enqueueDbOptions(flags, ctx.config);
  return newRunCommand(
    ctx,
    flags.json === true,
    (pool) => importFromDatabase(pool, ctx.log, options),
    (s) =>
      `(${s.source}): ${s.total} rows, ${s.pending} to fetch, ${s.skipped} fresh, ${s.duplicate} duplicate, ${s.invalid} invalid`,
  );
}
