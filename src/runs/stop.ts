/**
 * Stopping a read from a source at once. A source can wait forever (a stalled pipe, a database that
 * stopped answering), so whoever reads one races each read against an `AbortSignal`: the first Ctrl-C,
 * a schedule's deadline, or the source's own connection failing. The signal's reason, when it is an
 * `AppError`, says why (its code decides the exit code); any other reason is an interruption.
 */
import { AppError } from '../errors.js';

/** Thrown by `untilStopped` when the signal fires first. */
export class StoppedError extends Error {
  override readonly name = 'StoppedError';
}

/** Resolves like `promise`, or rejects with `StoppedError` as soon as `signal` is aborted. */
export function untilStopped<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new StoppedError('stopped'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StoppedError('stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * The error a stopped read ends with: the reason's own code and message when it is an `AppError`,
 * else `INTERRUPTED`; followed by what became of the run (`runId`), or that none was created.
 */
export function stopError(signal: AbortSignal | undefined, runId: number | undefined): AppError {
  const what =
    runId === undefined ? 'no run was created' : `run ${runId} aborted, the rows it had read are counted`;
  const reason: unknown = signal?.reason;
  if (reason instanceof AppError) {
    return new AppError(reason.code, `${reason.message}: ${what}`, { cause: reason, runId });
  }
  return new AppError('INTERRUPTED', `interrupted: ${what}`, { runId });
}

/** `signals` as one signal aborted by the first of them to abort (undefined ones are left out). */
export function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const given = signals.filter((s): s is AbortSignal => s !== undefined);
  if (given.length <= 1) return given[0];
  // The first aborted signal's reason is the combined signal's reason.
  return AbortSignal.any(given);
}
