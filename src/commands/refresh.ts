import { nothingToRefresh, refreshRun } from '../runs/refresh.js';
import type { RefreshFlags } from '../runs/requests.js';
import { refreshDefinition, refreshOptions } from '../runs/requests.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';
import { newRunCommand } from './new-run.js';

/** A run of the stored profiles older than `--older-than` and of numbers whose last failure was transient. */
export async function refreshCommand(flags: RefreshFlags, ctx: CommandContext): Promise<ExitCode> {
  const options = refreshOptions(flags, ctx.config);
  return newRunCommand(
    ctx,
    flags.json === true,
    (pool) => refreshRun(pool, ctx.log, { ...options, signal: ctx.signal }),
    (s) =>
      `(refresh): ${s.total} numbers, ${s.pending} to fetch, ${s.skipped} refreshed meanwhile, ${s.failed} failed for good`,
    nothingToRefresh(options),
  );
}

/** Its flags are defined with the run they request (`runs/requests.ts`), which schedules also carry. */
export const commandLine: CommandLine = (host) =>
  refreshDefinition().action(async (flags) => host.exit(await refreshCommand(flags, host.context())));
