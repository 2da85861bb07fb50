/**
 * Cancelling runs, as `cams-enrich cancel` does it: the run's pending numbers stop being fed and their
 * jobs leave Redis, each counted `cancelled`, and the run ends `cancelled`. A number whose call is in
 * flight finishes and keeps its real outcome; a number another run also waits for keeps its job. An
 * importing run is cancelled too: its importer finds out at its next chunk and stops.
 *
 * A worker may take a job while the cancel is being written: a worker whose ledger check came after the
 * cancel finds nothing pending and makes no call; one whose check came before it makes the call, and
 * settling it gives the rows the cancel counted `cancelled` meanwhile their real outcome, in the same
 * statement (`settle-numbers.ts`). So no row of the run is left pending by the cancel except those of
 * calls already in flight, and the accounting adds up at once.
 */
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { cancelRunItems } from '../db/sql/cancel-run-items.js';
import type { CancelledItems } from '../db/sql/cancel-run-items.js';
import { retryDatabase } from '../db/retry.js';
import { lockRun } from '../db/sql/lock-run.js';
import { AppError } from '../errors.js';
import type { EnrichQueue } from '../queue/queue.js';
import { numbersInFlight, removeNumberJobs } from '../queue/remove-jobs.js';

export interface CancelResult {
  run: number;
  /** `cancelled` now, or `already-cancelled` (nothing done). */
  outcome: 'cancelled' | 'already-cancelled';
  /** Numbers counted cancelled by this call. */
  cancelled: number;
  /** Numbers left to finish because their call was in flight. */
  inFlight: number;
  /** Jobs taken out of Redis. */
  removedJobs: number;
}

/** Cancels one run of the queue. Throws RUN_NOT_FOUND, or RUN_FINISHED for a run that ended otherwise. */
export async function cancelRun(
  deps: { pool: Pool; queue: EnrichQueue },
  runId: number,
): Promise<CancelResult> {
  const { pool, queue } = deps;
  // The cancel locks its run, then the run's rows; a settle locks a row, then its run. When the two
  // meet, PostgreSQL fails one of them (40P01): each is tried again, the cancel as a whole.
  const done = await retryDatabase(() => cancelInLedger(pool, queue, runId), { budgetMs: 15_000 });
  if (!done) return { run: runId, outcome: 'already-cancelled', cancelled: 0, inFlight: 0, removedJobs: 0 };
  // A job a worker holds now is locked and stays (removing it fails); its worker settles it.
  const removedJobs = await removeNumberJobs(queue, done.jobsToRemove);
  return {
    run: runId,
    outcome: 'cancelled',
    cancelled: done.cancelled,
    inFlight: done.inFlight,
    removedJobs,
  };
}

/** The ledger's part, in one transaction: undefined when the run was already cancelled. */
async function cancelInLedger(
  pool: Pool,
  queue: EnrichQueue,
  runId: number,
): Promise<CancelledItems | undefined> {
  // Read before the ledger changes; a job taken after this finds its rows cancelled and makes no call,
  // or, if its check came first, settles them with its call's outcome.
  const inFlight = await numbersInFlight(queue);
  return withTransaction(pool, async (client) => {
    const run = await lockRun(client, { runId, queue: queue.name });
    if (!run)
      throw new AppError(
        'RUN_NOT_FOUND',
        `run ${runId} does not exist on queue ${queue.name} (see "cams-enrich status" for its runs)`,
      );
    if (run.state === 'cancelled') return undefined;
    if (run.state === 'aborted' || (run.state === 'ready' && run.pending === 0))
      throw new AppError(
        'RUN_FINISHED',
        `run ${runId} ${run.state === 'aborted' ? 'was aborted' : 'has finished'}: only an importing or running run can be cancelled`,
      );
    return cancelRunItems(client, { runId, inFlight });
  });
}

/** One line for people. */
export function describeCancel(r: CancelResult): string {
  if (r.outcome === 'already-cancelled') return `run ${r.run} was already cancelled`;
  return `run ${r.run} cancelled: ${r.cancelled} numbers cancelled${
    r.inFlight > 0 ? `, ${r.inFlight} in flight finish with their real outcome` : ''
  }`;
}
