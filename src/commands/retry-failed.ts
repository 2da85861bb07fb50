import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { runIdArg } from '../cli-options.js';
import { openLedgerAndQueue } from '../connections.js';
import { Resources } from '../resources.js';
import type { RetryFailedResult } from '../runs/actions.js';
import { cliActor, retryFailedAction } from '../runs/actions.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const retryFailedDefinition = () =>
  new Command('retry-failed')
    .description(
      "a new run of a run's failed numbers whose failure was transient, in their spaces, at the run's priority",
    )
    .argument('<RUN>', 'the run id', runIdArg)
    .option('--json', 'print JSON');
export type RetryFailedFlags = FlagsOf<typeof retryFailedDefinition>;

/** One line for people. */
export function describeRetryFailed(r: RetryFailedResult): string {
  return r.run === null
    ? `nothing to retry in run ${r.from}: none of its failed numbers failed for a transient reason; no run created`
    : `run ${r.run}: ${r.numbers} failed numbers of run ${r.from} tried again (${r.codes.join(', ')})`;
}

/** Makes the new run and feeds its first window; prints the new run's id (or, with --json, the result). */
export async function retryFailedCommand(
  runId: number,
  opts: RetryFailedFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { pool, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 4);
    const result = await retryFailedAction(ctx.config, { pool, queue, log: ctx.log }, cliActor(), runId);
    if (opts.json) ctx.out(JSON.stringify(result));
    else if (result.run === null) ctx.out(describeRetryFailed(result));
    else {
      ctx.out(String(result.run));
      ctx.err(describeRetryFailed(result));
    }
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  retryFailedDefinition().action(async (run, opts) =>
    host.exit(await retryFailedCommand(run, opts, host.context())),
  );
