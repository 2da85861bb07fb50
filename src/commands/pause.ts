import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { openLedgerAndQueue } from '../connections.js';
import { Resources } from '../resources.js';
import type { PauseResult } from '../runs/actions.js';
import { cliActor, pauseAction } from '../runs/actions.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const pauseDefinition = () =>
  new Command('pause')
    .description(
      'pause the queue: workers finish the calls in flight and take no new job until "cams-enrich resume"',
    )
    .option('--reason <TEXT>', 'why, shown by status and the dashboard until resume')
    .option('--json', 'print JSON');
export type PauseFlags = FlagsOf<typeof pauseDefinition>;

/** One line for people. */
export function describePause(r: PauseResult): string {
  const shown = r.alert ? `; shown: ${r.alert.code}: ${r.alert.message}` : '';
  return `queue ${r.queue} ${r.paused ? 'paused' : 'was already paused'}${shown}; "cams-enrich resume" resumes it`;
}

/** Pauses the queue with a reason, the way an account alert pauses it. Pausing a paused queue is harmless. */
export async function pauseCommand(opts: PauseFlags, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { pool, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 1);
    const result = await pauseAction({ pool, queue }, cliActor(), opts.reason);
    ctx.out(opts.json ? JSON.stringify(result) : describePause(result));
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  pauseDefinition().action(async (opts) => host.exit(await pauseCommand(opts, host.context())));
