import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { priorityArg, runIdArg } from '../cli-options.js';
import type { RunPriority } from '../db/runs.js';
import { openLedgerAndQueue } from '../connections.js';
import { Resources } from '../resources.js';
import { cliActor, priorityAction } from '../runs/actions.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const priorityDefinition = () =>
  new Command('priority')
    .description("change a run's priority while it runs: high, normal or low")
    .argument('<RUN>', 'the run id', runIdArg)
    .argument('<LEVEL>', 'high, normal or low', priorityArg)
    .option('--json', 'print JSON');
export type PriorityFlags = FlagsOf<typeof priorityDefinition>;

/**
 * Sets the priority the feeder serves the run's numbers by, and gives its jobs already in Redis the new
 * priority, so the change holds at once, not only for what is fed from now on.
 */
export async function priorityCommand(
  runId: number,
  priority: RunPriority,
  opts: PriorityFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { pool, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 1);
    const result = await priorityAction({ pool, queue }, cliActor(), runId, priority);
    ctx.out(
      opts.json
        ? JSON.stringify(result)
        : `run ${runId}: priority ${priority}${result.previous !== priority ? ` (was ${result.previous})` : ''}${result.movedJobs > 0 ? ` (${result.movedJobs} jobs in Redis moved)` : ''}`,
    );
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  priorityDefinition().action(async (run, level, opts) =>
    host.exit(await priorityCommand(run, level, opts, host.context())),
  );
