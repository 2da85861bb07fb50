/**
 * What the commands that make a run from the ledger's side (enqueue-db, refresh) share: open the
 * ledger and the queue, make the run, feed its first window, print the run id (its status as JSON
 * with `--json`) and a summary line.
 */
import type { Pool } from '../db/pool.js';
import { feedNewRun, openLedgerAndQueue, Resources } from '../resources.js';
import type { RunStatus } from '../runs/status.js';
import type { CommandContext, ExitCode } from './context.js';

export async function newRunCommand(
  ctx: CommandContext,
  json: boolean,
  make: (pool: Pool) => Promise<{ runId: number }>,
  summary: (status: RunStatus) => string,
): Promise<ExitCode> {
  const res = new Resources();
  try {
    const ledger = await openLedgerAndQueue(res, ctx.config, ctx.log, 4);
    const { runId } = await make(ledger.pool);
    const status = await feedNewRun(ctx.config, ledger, ctx.log, runId);
    ctx.out(json ? JSON.stringify(status) : String(runId));
    ctx.err(`run ${runId} ${summary(status)}`);
    return 0;
  } finally {
    await res.close();
  }
}
