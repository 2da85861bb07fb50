/**
 * The processor: one job = one number. A function of its dependencies and the job, so it is tested
 * without a running Worker. BullMQ's meaning of each outcome is decided here, once:
 *
 * | CAMS answer                       | ledger                      | BullMQ                                       |
 * | --------------------------------- | --------------------------- | -------------------------------------------- |
 * | profile                           | upsert + enriched           | completed                                    |
 * | throttled (System.LimitControl)   | still pending               | gate adjusts the fleet's rate; call retried  |
 * | endpoint unreachable (refused, …) | still pending; alert later  | gate pauses the fleet; call retried          |
 * | transient (5xx, timeout, …)       | pending; failed on last try | throw → retried with exponential backoff     |
 * | permanent for this number         | failed (code, message)      | UnrecoverableError                           |
 * | permanent for the account         | still pending, alert raised | queue paused + RateLimitError                |
 * | this machine's clock is off       | still pending               | RateLimitError; this worker stops            |
 *
 * Neither a throttle nor an unreachable endpoint spends one of the number's attempts.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import type { CamsClient } from '../src/cams/cams-client.js';
import { CamsError } from '../src/cams/cams-error.js';
import type { Ledger } from '../src/db/ledger.js';
import type { Logger } from '../src/log.js';
import { maskPhone } from '../src/mask.js';
import type { CallOutcome, EnrichObserver } from '../src/metrics/worker-metrics.js';
import type { CallGate } from '../src/queue/call-gate.js';
import type { EnrichJobData } from '../src/queue/queue.js';

/** The parts of a BullMQ job the processor reads. */
export interface EnrichJob {
  id?: string | undefined;
  data: EnrichJobData;
  attemptsMade: number;
  attemptsStarted: number;
  opts: { attempts?: number | undefined };
}

/** What the processor may do to the whole fleet. */
export interface FleetControl {
  /** Pauses the queue for an account-wide failure and records why. */
  pauseForAccount(error: CamsError): Promise<void>;
  /** Records that the endpoint has been unreachable for a while (queue_alerts, `status`). */
  alertUnreachable(error: CamsError, downForMs: number): Promise<void>;
  /** Clears that alert once the endpoint answers again. */
  clearUnreachable(): Promise<void>;
}

export interface EnrichDeps {
  cams: CamsClient;
  /** Taken right before each call. */
  gate: CallGate;
  ledger: Ledger;
  log: Logger;
  fleet: FleetControl;
  /** A number throttled this many times fails with System.LimitControl instead of running forever. Default 50. */
  maxThrottledStarts?: number;
  /**
   * Aborted when the worker stops: a job still waiting for a call slot goes back to the queue (no
   * attempt spent); a call already under way finishes and is stored. Default: none.
   */
  stopping?: AbortSignal;
  /** Told of every call, saved call and backoff (the worker's metrics). Default: nobody. */
  observer?: EnrichObserver;
  /**
   * Told when CAMS refuses this machine's timestamp (`InvalidTimeStamp.Expired`): every call from
   * here would fail alike, so the worker stops; the number goes back to the queue for the others.
   * Default: nobody (the number still goes back).
   */
  onClockOff?: (error: CamsError) => void;
  /**
   * Counts the requests that settle nothing (a throttle, a failure to be retried, an account refusal)
   * for the usage figures; a request that settles the number is counted by the ledger with it.
   * Default: not counted.
   */
  calls?: CallTally;
}

/** Where the processor counts a request to CAMS that settles nothing. */
export interface CallTally {
  /** One request for a number of the space, made for the run (the oldest waiting for it). */
  count(custSpaceId: string, runId: number, throttled: boolean): void;
}

/** A request that reached CAMS (or may have): every CAMS answer, a timeout; not an unreachable endpoint. */
function reachedCams(err: unknown): boolean {
  return err instanceof CamsError && !err.unreachable;
}

export type EnrichOutcome = 'enriched' | 'fresh' | 'nothing-pending';

export async function enrich(deps: EnrichDeps, job: EnrichJob, signal?: AbortSignal): Promise<EnrichOutcome> {
  const { cams, ledger } = deps;
  const key = job.data;
  const log = deps.log.child({ jobId: job.id, phone: maskPhone(key.phoneNumber) });

  const check = await ledger.checkPending(key);
  if (check.kind !== 'call') deps.observer?.saved(check.kind);
  if (check.kind === 'nothing-pending') {
    log.debug('no run waits for this number any more; no call');
    return 'nothing-pending';
  }
  if (check.kind === 'fresh') {
    await ledger.settleFromStore(key);
    log.debug('stored profile is fresh; no call');
    return 'fresh';
  }

  // Waiting for a slot ends when the job is cancelled or the worker stops; the call itself only when
  // the job is cancelled (a forced stop), since a call under way is already spent.
  const waitSignal =
    signal && deps.stopping ? AbortSignal.any([signal, deps.stopping]) : (signal ?? deps.stopping);
  let profile;
  let throttles = 0;
  let unreachable = false;
  for (;;) {
    let sent: number | undefined;
    try {
      waitSignal?.throwIfAborted();
      await deps.gate.acquire(waitSignal);
      sent = performance.now();
      profile = await cams.queryPhoneBusinessProfile({
        custSpaceId: key.custSpaceId,
        phoneNumber: key.phoneNumber,
        signal,
      });
      deps.observer?.called({
        code: 'OK',
        seconds: (performance.now() - sent) / 1000,
        outcome: 'enriched',
        space: key.custSpaceId,
      });
      break;
    } catch (err) {
      if (sent !== undefined) observeFailedCall(deps.observer, err, sent, key.custSpaceId);
      // Stopping: the job goes back to the queue without spending an attempt.
      if (waitSignal?.aborted) throw Worker.RateLimitError();
      if (err instanceof CamsError && err.classification === 'throttled') {
        throttles += 1;
        const fields = { code: err.code, requestId: err.requestId, httpStatus: err.httpStatus };
        if (job.attemptsStarted - 1 + throttles >= (deps.maxThrottledStarts ?? 50)) {
          await ledger.recordFailure(
            key,
            err.code,
            `throttled ${job.attemptsStarted - 1 + throttles} times: ${err.upstreamMessage}`,
            { classification: 'throttled', calls: 1, throttled: 1, since: check.checkedAt },
          );
          log.error(fields, 'number throttled too often; failed');
          throw new UnrecoverableError(err.message);
        }
        deps.calls?.count(key.custSpaceId, check.runId, true);
        const verdict = await deps.gate.throttled(err.retryAfterMs);
        log.warn(
          { ...fields, adjustment: verdict.kind, pauseMs: verdict.pauseMs },
          'throttled by CAMS; retrying',
        );
        continue;
      }
      if (err instanceof CamsError && err.unreachable) {
        const verdict = await deps.gate.unreachable();
        unreachable = true;
        if (verdict.raiseAlert) await deps.fleet.alertUnreachable(err, verdict.downForMs);
        if (verdict.pauseMs > 0)
          log.warn(
            { code: err.code, pauseMs: verdict.pauseMs },
            'CAMS endpoint unreachable; pausing every call',
          );
        continue;
      }
      throw await handleFailure(deps, job, log, err, check);
    }
  }
  if (unreachable && (await deps.gate.reachable())) {
    await deps.fleet.clearUnreachable();
    log.warn('CAMS endpoint reachable again; alert cleared');
  }
  // Rows a cancel wrote while the call was under way get its outcome too (`since`).
  const settled = await ledger.recordProfile(key, profile, check.checkedAt);
  log.debug({ requestId: profile.requestId, runs: settled }, 'profile stored');
  return 'enriched';
}

/** Records what must be recorded and returns the error that tells BullMQ what to do next. */
async function handleFailure(
  deps: EnrichDeps,
  job: EnrichJob,
  log: Logger,
  err: unknown,
  check: { runId: number; checkedAt: string },
): Promise<Error> {
  const { ledger, fleet } = deps;
  const { runId } = check;
  const key = job.data;
  if (!(err instanceof CamsError)) {
    // Not an answer from CAMS (a bug or a database fault): retry like a transient fault.
    return finalIfLastAttempt(
      deps,
      job,
      log,
      'WORKER_ERROR',
      err instanceof Error ? err.message : String(err),
      err,
      check,
    );
  }
  const fields = { code: err.code, requestId: err.requestId, httpStatus: err.httpStatus };
  switch (err.classification) {
    case 'throttled': // not reached: the gate has a throttled call tried again
    case 'transient':
      return finalIfLastAttempt(deps, job, log, err.code, err.upstreamMessage, err, check);
    case 'permanent':
      if (err.scope === 'clock') {
        log.error(
          fields,
          `CAMS refuses this machine's request time (${err.code}): its clock is off; this worker stops, the number goes back to the queue`,
        );
        deps.calls?.count(key.custSpaceId, runId, false);
        deps.onClockOff?.(err);
        return Worker.RateLimitError();
      }
      if (err.scope === 'account') {
        log.fatal(
          fields,
          `CAMS refuses this account (${err.code}): queue paused; fix the account, then run "cams-enrich resume"`,
        );
        deps.calls?.count(key.custSpaceId, runId, false);
        await fleet.pauseForAccount(err);
        return Worker.RateLimitError();
      }
      await ledger.recordFailure(key, err.code, err.upstreamMessage, {
        final: true,
        classification: 'permanent',
        calls: 1,
        since: check.checkedAt,
      });
      log.warn(fields, 'CAMS refused this number; failed');
      return new UnrecoverableError(err.message);
  }
}

function observeFailedCall(
  observer: EnrichObserver | undefined,
  err: unknown,
  sent: number,
  space: string,
): void {
  if (!observer) return;
  const code = err instanceof CamsError ? err.code : 'WORKER_ERROR';
  observer.called({ code, seconds: (performance.now() - sent) / 1000, outcome: callOutcome(err), space });
}

/** What became of a request that did not bring a profile, for the metrics (`CallOutcome`). */
export function callOutcome(err: unknown): CallOutcome {
  if (!(err instanceof CamsError)) return 'error';
  if (err.classification === 'throttled') return 'throttled';
  if (err.unreachable) return 'unreachable';
  if (err.classification === 'transient') return 'transient';
  if (err.scope === 'account') return 'account_refused';
  if (err.scope === 'clock') return 'clock_refused';
  return 'failed_permanent';
}

async function finalIfLastAttempt(
  deps: EnrichDeps,
  job: EnrichJob,
  log: Logger,
  code: string,
  message: string,
  err: unknown,
  check: { runId: number; checkedAt: string },
): Promise<Error> {
  const attempts = job.opts.attempts ?? 1;
  const last = job.attemptsMade + 1 >= attempts;
  const sent = reachedCams(err);
  if (last) {
    await deps.ledger.recordFailure(job.data, code, message, {
      classification: err instanceof CamsError ? 'transient' : 'other',
      calls: sent ? 1 : 0,
      since: check.checkedAt,
    });
    log.error({ code, attempts }, 'failed after the last attempt');
    return new UnrecoverableError(`${code}: ${message}`);
  }
  if (sent) deps.calls?.count(job.data.custSpaceId, check.runId, false);
  log.warn({ code, attempt: job.attemptsMade + 1, attempts }, 'transient failure; will retry');
  return err instanceof Error ? err : new Error(String(err));
}
