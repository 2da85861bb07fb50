import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { openLedgerAndQueue } from '../connections.js';
import { Resources } from '../resources.js';
import { describeResume } from '../runs/resume.js';
import { cliActor, resumeAction } from '../runs/actions.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const resumeDefinition = () =>
  new Command('resume')
    .description('put back into Redis what it lost, clear an account alert and resume a paused queue')
    .option('--json', 'print JSON');
export type ResumeFlags = FlagsOf<typeof resumeDefinition>;

/**
 * Puts back into Redis every pending number whose job is missing, clears an account alert and
 * resumes a paused queue. Doing it when nothing is missing changes nothing.
 */
export async function resumeCommand(opts: ResumeFlags, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { pool, store, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 2);
    const result = await resumeAction(ctx.config, { pool, queue, store, log: ctx.log }, cliActor());
    ctx.out(opts.json ? JSON.stringify(result) : describeResume(result));
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  resumeDefinition().action(async (opts) => host.exit(await resumeCommand(opts, host.context())));
