/**
 * BullMQ's own way of keeping to a quota, as its documentation shows it: the Worker's limiter
 * (`{max: rate, duration: 1000}`, which every enrich worker has) and, on a throttle,
 * `queue.rateLimit(ms)` for the whole queue. No shared call window, no learning. Kept as the
 * reference the limiter bench measures the rate controller against.
 */
import { Worker } from 'bullmq';
import type { CamsClient } from '../src/cams/cams-client.js';
import type { CallGate } from '../src/queue/call-gate.js';

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

/**
 * The stock way for `startEnrichWorker`: a gate that admits every call at once and answers a throttle
 * by backing the whole queue off (`backOff`: BullMQ's `queue.rateLimit`) and handing the job back
 * (`RateLimitError`: no attempt spent), and the client to call through, whose answers reset the pause.
 * An unreachable endpoint fails the attempt like any transient fault.
 */
export function stockWay(
  cams: CamsClient,
  backOff: (ms: number) => Promise<void>,
  backoff = new ThrottleBackoff(),
): { gate: CallGate; cams: CamsClient } {
  const gate: CallGate = {
    acquire: () => Promise.resolve(),
    async throttled() {
      await backOff(backoff.next());
      throw Worker.RateLimitError();
    },
    unreachable: () => Promise.reject(new Error('CAMS endpoint unreachable')),
    reachable: () => Promise.resolve(false),
  };
  const client: CamsClient = {
    async queryPhoneBusinessProfile(input) {
      const profile = await cams.queryPhoneBusinessProfile(input);
      backoff.reset();
      return profile;
    },
  };
  if (cams.warmUp) client.warmUp = () => cams.warmUp!();
  return { gate, cams: client };
}
