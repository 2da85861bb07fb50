import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { runIdArg } from '../cli-options.js';
import { openRunsOfSource } from '../db/runs.js';
import { AppError } from '../errors.js';
import { openLedgerAndQueue } from '../connections.js';
import { Resources } from '../resources.js';
import type { CancelResult } from '../runs/cancel.js';
import { describeCancel } from '../runs/cancel.js';
import { cancelAction, cliActor } from '../runs/actions.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const cancelDefinition = () =>
  new Command('cancel')
    .description(
      'stop a run: its pending numbers are cancelled and leave Redis, calls in flight finish (RUN, or --source)',
    )
    .argument('[RUN]', 'the run id', runIdArg)
    .option(
      '--source <SOURCE>',
      "every importing or running run of this source, e.g. a schedule's: schedule:NAME",
    )
    .option('--json', 'print JSON');
export type CancelFlags = FlagsOf<typeof cancelDefinition>;

/**
 * Cancels a run of the queue, or every open run of a source. Cancelling a cancelled run does nothing
 * (exit 0); a run that finished otherwise cannot be cancelled (exit 2).
 */
export async function cancelCommand(
  runId: number | undefined,
  opts: CancelFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  if ((runId === undefined) === (opts.source === undefined))
    throw new AppError(
      'USAGE',
      'give a run id (cancel 12) or --source (cancel --source schedule:nightly), not both',
    );
  if (opts.source !== undefined && opts.source.trim() === '')
    throw new AppError('USAGE', '--source must not be empty (e.g. schedule:nightly)');
  const res = new Resources();
  try {
    const { pool, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 2);
    if (runId !== undefined) {
      const result = await cancelAction({ pool, queue }, cliActor(), runId);
      ctx.out(opts.json ? JSON.stringify(result) : describeCancel(result));
      return 0;
    }
    const source = opts.source!.trim();
    const ids = await openRunsOfSource(pool, { queue: queue.name, source });
    const results: CancelResult[] = [];
    for (const id of ids) {
      try {
        results.push(await cancelAction({ pool, queue }, cliActor(), id));
      } catch (err) {
        // It finished between the listing and its cancel: nothing left to stop.
        if ((err as { code?: unknown }).code !== 'RUN_FINISHED') throw err;
      }
    }
    if (opts.json) ctx.out(JSON.stringify({ source, runs: results }));
    else if (results.length === 0) ctx.out(`no importing or running run of ${source} on queue ${queue.name}`);
    else for (const r of results) ctx.out(describeCancel(r));
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  cancelDefinition().action(async (run, opts) => host.exit(await cancelCommand(run, opts, host.context())));
