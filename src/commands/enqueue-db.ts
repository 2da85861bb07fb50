import { importFromDatabase } from '../runs/db-import.js';
import type { EnqueueDbFlags } from '../runs/requests.js';
import { enqueueDbDefinition, enqueueDbOptions } from '../runs/requests.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';
import { newRunCommand } from './new-run.js';

/** A run from a PostgreSQL table or query; prints the run id (JSON status with `--json`). */
export async function enqueueDbCommand(flags: EnqueueDbFlags, ctx: CommandContext): Promise<ExitCode> {
  const options = enqueueDbOptions(flags, ctx.config);
  return newRunCommand(
    ctx,
    flags.json === true,
    (pool) => importFromDatabase(pool, ctx.log, { ...options, signal: ctx.signal }),
    (s) =>
      `(${s.source}): ${s.total} rows, ${s.pending} to fetch, ${s.skipped} fresh, ${s.duplicate} duplicate, ${s.invalid} invalid`,
  );
}

/** Its flags are defined with the run they request (`runs/requests.ts`), which schedules also carry. */
export const commandLine: CommandLine = (host) =>
  enqueueDbDefinition().action(async (flags) => host.exit(await enqueueDbCommand(flags, host.context())));
