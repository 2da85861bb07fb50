import { pruneRuns } from '../db/prune.js';
import { openDatabase } from '../database-connection.js';
import { Resources } from '../resources.js';
import type { PruneFlags } from '../runs/requests.js';
import { pruneDefinition, pruneOptions } from '../runs/requests.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

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
        `pruned ${result.runs} runs: ${result.items} run items, ${result.rejects} rejected rows and ${result.duplicates} duplicate rows deleted; their counters stay`,
      );
    return 0;
  } finally {
    await res.close();
  }
}

/** Its flags are defined with the request (`runs/requests.ts`), which schedules also carry. */
export const commandLine: CommandLine = (host) =>
  pruneDefinition().action(async (flags) => host.exit(await pruneCommand(flags, host.context())));
