/**
 * A task repeated on a timer that never overlaps its own previous run: a tick that comes while the
 * last run is still going is skipped. The timer does not keep the process alive.
 */

export interface Periodic {
  /** Clears the timer and waits for a run in progress. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs`. A failure goes to `onError` (the task is tried again on the next
 * tick); it never rejects `stop`.
 */
export function startPeriodic(
  intervalMs: number,
  task: () => Promise<unknown>,
  onError: (err: unknown) => void,
): Periodic {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= task()
      .then(
        () => undefined,
        (err: unknown) => onError(err),
      )
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
