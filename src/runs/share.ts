/**
 * How the quota is shared between a queue's runs with work, as the feeder shares it
 * (`claimRowsToFeed`): every run of a higher priority first, runs of one priority in equal turns. From
 * it, each run's ETA at the fleet's pace, and which runs it waits behind.
 */
import type { RunPriority } from '../db/runs.js';
import { RUN_PRIORITIES } from '../db/runs.js';

export interface WorkingRun {
  id: number;
  priority: RunPriority;
  pending: number;
}

export interface RunShare {
  /** Seconds until the run's last number is settled at `ratePerSecond`; null when nothing moves. */
  etaSeconds: number | null;
  /** Runs of a higher priority with work, which go before this one. */
  waitingBehind: number[];
}

/**
 * Within one priority, runs taking equal turns: the smallest finishes first, at `k × its pending` of
 * calls, and the others go on sharing between fewer runs; a priority starts when the ones above it
 * are done.
 */
export function shareOut(runs: readonly WorkingRun[], ratePerSecond: number): Map<number, RunShare> {
  const shares = new Map<number, RunShare>();
  let callsBefore = 0;
  const above: number[] = [];
  for (const priority of RUN_PRIORITIES) {
    const mine = runs.filter((r) => r.priority === priority).sort((a, b) => a.pending - b.pending);
    let settled = 0;
    mine.forEach((r, i) => {
      const calls = callsBefore + settled + (mine.length - i) * r.pending;
      shares.set(r.id, {
        etaSeconds: ratePerSecond > 0 ? Math.ceil(calls / ratePerSecond) : null,
        waitingBehind: [...above],
      });
      settled += r.pending;
    });
    callsBefore += settled;
    above.push(...mine.map((r) => r.id).sort((a, b) => a - b));
  }
  return shares;
}
