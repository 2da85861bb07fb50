/**
 * BullMQ's own way of keeping to a quota, as its documentation shows it: the Worker's limiter
 * (`{max: rate, duration: 1000}`) and, on a throttle, `queue.rateLimit(ms)` for the whole queue. No
 * shared call window, no learning. Kept as the reference the bench measures the rate controller against
 * (`EnrichWorkerOptions.callWindow: false`).
 */
import type { CallGate } from '../../workers/enrich.js';

/** Consecutive throttles grow the pause; a call that gets through resets it. One per process. */
export class ThrottleBackoff {
  #streak = 0;
  constructor(
    /** First pause in ms. Default 1000: a sliding one-second window is empty again by then. */
    readonly baseMs = 1000,
    /** Longest pause in ms. Default 30000. */
    readonly maxMs = 30_000,
  ) {}
  /** The pause for one more throttle, with ±20% jitter so a fleet does not resume in lockstep. */
  next(): number {
    this.#streak += 1;
    const ms = Math.min(this.maxMs, this.baseMs * 2 ** (this.#streak - 1));
    return Math.round(ms * (0.8 + Math.random() * 0.4));
  }
  reset(): void {
    this.#streak = 0;
  }
}

/** A gate that admits every call at once and answers a throttle with a queue-wide back-off. */
export function createStockGate(backoff = new ThrottleBackoff()): CallGate {
  return {
    acquire: () => Promise.resolve(),
    throttled: () => Promise.resolve({ kind: 'queue', pauseMs: 0, queueBackOffMs: backoff.next() }),
    unreachable: () => Promise.resolve({ pauseMs: 0, raiseAlert: false, downForMs: 0, retry: false }),
    reachable: () => Promise.resolve(false),
    succeeded: () => backoff.reset(),
  };
}
