import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { priorityArg, runIdArg } from '../cli-options.js';
import type { RunPriority } from '../db/runs.js';
import { setRunPriority } from '../db/runs.js';
import { AppError } from '../errors.js';
import { openDatabase } from '../database-connection.js';
import { Resources } from '../resources.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const priorityDefinition = () =>
  new Command('priority')
    .description("change a run's priority while it runs: high, normal or low")
    .argument('<RUN>', 'the run id', runIdArg)
    .argument('<LEVEL>', 'high, normal or low', priorityArg)
    .option('--json', 'print JSON');
export type PriorityFlags = FlagsOf<typeof priorityDefinition>;

/**
 * Sets the priority the feeder serves the run's numbers by from now on; the few seconds of its work
 * already in Redis keep the priority they were fed with.
 */
export async function priorityCommand(
  runId: number,
  priority: RunPriority,
  opts: PriorityFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 1);
    if (!(await setRunPriority(pool, { runId, queue: ctx.config.queueName, priority })))
      throw new AppError(
        'RUN_NOT_FOUND',
        `run ${runId} does not exist on queue ${ctx.config.queueName} (see "cams-enrich status" for its runs)`,
      );
    ctx.out(opts.json ? JSON.stringify({ run: runId, priority }) : `run ${runId}: priority ${priority}`);
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  priorityDefinition().action(async (run, level, opts) =>
    host.exit(await priorityCommand(run, level, opts, host.context())),
  );
