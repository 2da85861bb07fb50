import type { RefreshFlags } from '../cli/flags.js';
import type { Config } from '../config.js';
import { parseDuration } from '../duration.js';
import { AppError } from '../errors.js';
import { newRunCommand } from './new-run.js';
import type { RefreshOptions } from '../runs/refresh.js';
import { refreshRun } from '../runs/refresh.js';
import type { CommandContext, ExitCode } from './context.js';

/** The refresh the flags stand for, checked without touching a database (bad flags: exit 2). */
export function refreshOptions(flags: RefreshFlags, config: Pick<Config, 'queueName'>): RefreshOptions {
  if (flags.olderThan === undefined)
    throw new AppError('USAGE', '--older-than DURATION is required (e.g. 7d)');
  if (flags.space !== undefined && flags.space.trim() === '') {
    throw new AppError('USAGE', '--space must not be empty');
  }
  return {
    queue: config.queueName,
    olderThanMs: parseDuration(flags.olderThan, '--older-than'),
    space: flags.space,
  };
}

/** A run of the stored profiles older than `--older-than` and of numbers whose last failure was transient. */
export async function refreshCommand(flags: RefreshFlags, ctx: CommandContext): Promise<ExitCode> {
  const options = refreshOptions(flags, ctx.config);
  return newRunCommand(
    ctx,
    flags.json === true,
    (pool) => refreshRun(pool, ctx.log, options),
    (s) =>
      `(refresh): ${s.total} numbers, ${s.pending} to fetch, ${s.skipped} refreshed meanwhile, ${s.failed} failed for good`,
  );
}
