/**
 * Counts the requests to CAMS that settle nothing (a throttle, a failure that will be retried, an
 * account refusal) for the usage figures, cheaply: they are added up in memory and written in one
 * statement every `intervalMs` (`sql/add-call-counts.ts`), and once more when the counter is closed. A
 * request that settles a number is counted in the settling statement itself, not here. A throttle is
 * also counted for its run's second (`run_throttles`), for the run's timeline in the dashboard.
 */
import type { Logger } from '../log.js';
import type { Pool } from './pool.js';
import type { CallCount } from './sql/add-call-counts.js';
import { addCallCounts } from './sql/add-call-counts.js';
import type { RunThrottles } from './sql/add-run-throttles.js';
import { addRunThrottles } from './sql/add-run-throttles.js';

export interface CallCounter {
  /** One request sent for a number of the space, for the run; `throttled` when CAMS answered with a throttle. */
  count(custSpaceId: string, runId: number, throttled: boolean): void;
  /** Writes what is counted so far. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is left; idempotent. */
  close(): Promise<void>;
}

export interface CallCounterOptions {
  /** How often counts are written, in ms. Default 1000. */
  intervalMs?: number;
}

const utcDay = (d: Date) => d.toISOString().slice(0, 10);

export function createCallCounter(pool: Pool, log: Logger, options: CallCounterOptions = {}): CallCounter {
  let counts = new Map<string, CallCount>();
  const add = (c: Omit<CallCount, 'n'>, n: number) => {
    const id = `${c.day}\u0000${c.custSpaceId}\u0000${c.runId}\u0000${c.metric}`;
    const had = counts.get(id);
    if (had) had.n += n;
    else counts.set(id, { ...c, n });
  };
  // A run's throttles by second, for its timeline (`run_throttles`).
  let throttles = new Map<string, RunThrottles>();
  const addThrottles = (runId: number, second: number, n: number) => {
    const id = `${runId}:${second}`;
    const had = throttles.get(id);
    if (had) had.n += n;
    else throttles.set(id, { runId, second, n });
  };
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    writing = writing.then(async () => {
      if (counts.size > 0) {
        const batch = counts;
        counts = new Map();
        try {
          await addCallCounts(pool, [...batch.values()]);
        } catch (err) {
          // Kept for the next write: a count is never dropped for a database blip.
          for (const c of batch.values()) add(c, c.n);
          log.warn({ err }, 'could not record call counts; will retry');
        }
      }
      if (throttles.size > 0) {
        const batch = throttles;
        throttles = new Map();
        try {
          await addRunThrottles(pool, [...batch.values()]);
        } catch (err) {
          for (const c of batch.values()) addThrottles(c.runId, c.second, c.n);
          log.warn({ err }, "could not record the runs' throttles; will retry");
        }
      }
    });
    return writing;
  };
  const timer = setInterval(() => void flush(), options.intervalMs ?? 1000);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    count(custSpaceId, runId, throttled) {
      const base = { day: utcDay(new Date()), custSpaceId, runId };
      add({ ...base, metric: 'calls' }, 1);
      if (throttled) add({ ...base, metric: 'throttled' }, 1);
      if (throttled && runId > 0) addThrottles(runId, Math.floor(Date.now() / 1000) * 1000, 1);
    },
    flush,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await flush();
      })();
      return closing;
    },
  };
}
