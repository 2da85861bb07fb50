import type { PruneFlags } from '../cli/flags.js';
import { parseDuration } from '../duration.js';
import { AppError } from '../errors.js';
import type { PruneOptions } from '../db/prune.js';
import { pruneRuns } from '../db/prune.js';
import { openDatabase, Resources } from '../resources.js';
import type { CommandContext, ExitCode } from './context.js';

/** The prune the flags stand for (bad flags: exit 2). */
export function pruneOptions(flags: PruneFlags): PruneOptions {
  if (flags.olderThan === undefined)
    throw new AppError('USAGE', '--older-than DURATION is required (e.g. 30d)');
  return { olderThanMs: parseDuration(flags.olderThan, '--older-than') };
}

/** Deletes the per-number rows of runs finished longer ago than `--older-than`; their counters stay. */
export async function pruneCommand(flags: PruneFlags, ctx: CommandContext): Promise<ExitCode> {
  const options = pruneOptions(flags);
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 2);
    const result = await pruneRuns(pool, options);
    if (flags.json) ctx.out(JSON.stringify(result));
    else
      ctx.out(
        `pruned ${result.runs} runs: ${result.items} run items and ${result.rejects} rejected rows deleted; their counters stay`,
      );
    return 0;
  } finally {
    await res.close();
  }
}
