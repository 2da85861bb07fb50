import type { RefreshFlags } from '../cli/flags.js';
import type { Config } from '../config.js';
import { parseDuration } from '../duration.js';
import { AppError } from '../errors.js';
import { feedOnce, openDatabase, openQueue, openRedis, Resources } from '../resources.js';
import type { RefreshOptions } from '../runs/refresh.js';
import { refreshRun } from '../runs/refresh.js';
import { runStatus } from '../runs/status.js';
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
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 4);
    const redis = await openRedis(res, ctx.config, ctx.log, 'producer');
    const queue = openQueue(res, ctx.config, redis, ctx.log);
    const result = await refreshRun(pool, ctx.log, options);
    await feedOnce(ctx.config, pool, queue, ctx.log);
    const status = await runStatus(pool, result.runId);
    ctx.out(flags.json ? JSON.stringify(status) : String(result.runId));
    ctx.err(
      `run ${result.runId} (refresh): ${status.total} numbers, ${status.pending} to fetch, ${status.skipped} refreshed meanwhile, ${status.failed} failed for good`,
    );
    return 0;
  } finally {
    await res.close();
  }
}
