/**
 * What the commands that make a run from the ledger's side (enqueue-db, refresh) share: open the
 * ledger and the queue, make the run, feed its first window, print the run id (its status as JSON
 * with `--json`) and a summary line.
 */
import type { Pool } from '../db/pool.js';
import type { Config } from '../config.js';
import type { LedgerAndQueue } from '../connections.js';
import { openLedgerAndQueue } from '../connections.js';
import type { Logger } from '../log.js';
import { AppError, isAppError } from '../errors.js';
import { feedOnce } from '../queue/feeder.js';
import { Resources } from '../resources.js';
import type { RunStatus } from '../runs/status.js';
import { runStatus } from '../runs/status.js';
import type { CommandContext, ExitCode } from './context.js';

export async function newRunCommand(
  ctx: CommandContext,
  json: boolean,
  make: (pool: Pool) => Promise<{ runId: number } | null>,
  summary: (status: RunStatus) => string,
  /** What to say when `make` found nothing to do and made no run (exit 0). */
  nothing = 'nothing to do: no run created',
): Promise<ExitCode> {
  const res = new Resources();
  try {
    const ledger = await openLedgerAndQueue(res, ctx.config, ctx.log, 4);
    const made = await make(ledger.pool);
    if (made === null) {
      ctx.out(json ? JSON.stringify({ run: null, message: nothing }) : nothing);
      return 0;
    }
    const { runId } = made;
    const status = await feedNewRun(ctx.config, ledger, ctx.log, runId);
    ctx.out(json ? JSON.stringify(status) : String(runId));
    ctx.err(`run ${runId} ${summary(status)}`);
    return 0;
  } finally {
    await res.close();
  }
}

/** Puts the first window of a new run's work into Redis (the workers' feeders keep it topped up); returns its status. */
export async function feedNewRun(
  config: Config,
  ledger: LedgerAndQueue,
  log: Logger,
  runId: number,
): Promise<RunStatus> {
  try {
    await feedOnce(config, ledger.pool, ledger.queue, log);
  } catch (err) {
    // The run is safe in the ledger; only its first window is not in Redis. Importing again would
    // make a second run of the same rows: say which run it is and how it gets fed.
    if (isAppError(err) && err.exitCode === 2) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppError(
      'SERVICE_UNAVAILABLE',
      `run ${runId} is recorded, but its numbers could not be put into Redis (${reason}): do not import again; ` +
        'run "cams-enrich resume" once Redis answers, or let a running worker feed it',
      { cause: err, runId },
    );
  }
  return runStatus(ledger.pool, runId);
}
