/**
 * A clock a test drives for the rate controller (`ControllerClock`): time stands still until the test
 * moves it, so what the controller decides does not depend on how busy the machine is.
 */
import type { ControllerClock } from '../../src/queue/rate-controller.js';

interface Timer {
  at: number;
  resolve: () => void;
}

export interface TestClockOptions {
  /** Start time, in ms. */
  start?: number;
  /**
   * True while no operation of the controllers' store is in flight. A store that takes batches makes
   * a process's waiting calls wait for one reservation loop rather than each sleep on the clock: when
   * the store is idle and something sleeps, nothing else can happen before a wake-up.
   */
  idle?: () => boolean;
}

export class TestClock implements ControllerClock {
  #t: number;
  readonly #idle: (() => boolean) | undefined;
  readonly #timers = new Set<Timer>();

  constructor(options: TestClockOptions = {}) {
    this.#t = options.start ?? 1_800_000_000_000;
    this.#idle = options.idle;
  }

  now = (): number => this.#t;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const timer: Timer = {
        at: this.#t + ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#timers.delete(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#timers.add(timer);
    });

  /** Calls asleep on this clock now. */
  sleepers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, waking every sleeper whose time came. */
  advance(ms: number): void {
    this.#t += ms;
    this.#wake();
  }

  /**
   * Settles `work` (calls of controllers on this clock): whenever every unsettled one is asleep on
   * the clock (none is waiting for the store), or something sleeps and the store is idle (`idle`),
   * time jumps to the earliest wake-up. So the order of events is the same on every run, however long
   * the store takes to answer.
   */
  async run<T>(work: Array<Promise<T>>): Promise<T[]> {
    let open = work.length;
    for (const p of work)
      p.then(
        () => (open -= 1),
        () => (open -= 1),
      );
    while (open > 0) {
      if (this.#timers.size === open || (this.#timers.size > 0 && this.#idle?.() === true)) {
        this.#t = Math.max(this.#t, Math.min(...[...this.#timers].map((x) => x.at)));
        this.#wake();
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return Promise.all(work);
  }

  #wake(): void {
    for (const timer of [...this.#timers]) {
      if (timer.at > this.#t) continue;
      this.#timers.delete(timer);
      timer.resolve();
    }
  }
}
