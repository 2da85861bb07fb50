/**
 * The processor: one job = one number. A function of its dependencies and the job, so it is tested
 * without a running Worker. BullMQ's meaning of each outcome is decided here, once:
 *
 * | CAMS answer                     | ledger                      | BullMQ                                   |
 * | ------------------------------- | --------------------------- | ---------------------------------------- |
 * | profile                         | upsert + enriched           | completed                                |
 * | throttled (System.LimitControl) | still pending               | queue.rateLimit(backoff) + RateLimitError |
 * | transient (5xx, timeout, …)     | pending; failed on last try | throw → retried with exponential backoff |
 * | permanent for this number       | failed (code, message)      | UnrecoverableError                       |
 * | permanent for the account       | still pending, alert raised | queue paused + RateLimitError            |
 */
import { UnrecoverableError, Worker } from 'bullmq';
import type { CamsClient } from '../src/cams/cams-client.js';
import { CamsError } from '../src/cams/cams-error.js';
import type { Ledger } from '../src/db/ledger.js';
import type { Logger } from '../src/log.js';
import { maskPhone } from '../src/mask.js';
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
  /** Holds every worker of the queue back for `ms` (BullMQ `queue.rateLimit`). */
  backOff(ms: number): Promise<void>;
  /** Pauses the queue for an account-wide failure and records why. */
  pauseForAccount(error: CamsError): Promise<void>;
}

/** Consecutive throttles grow the pause; a success resets it. One per worker process. */
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
  get streak(): number {
    return this.#streak;
  }
}

/** Admits one CAMS call at a time under the account's quota (`src/queue/call-window.ts`). */
export interface CallGate {
  acquire(): Promise<void>;
}

export interface EnrichDeps {
  cams: CamsClient;
  /** Taken right before each call. */
  gate: CallGate;
  ledger: Ledger;
  log: Logger;
  fleet: FleetControl;
  throttle: ThrottleBackoff;
  /** A number throttled on this many starts fails with System.LimitControl instead of running forever. Default 50. */
  maxThrottledStarts?: number;
}

export type EnrichOutcome = 'enriched' | 'fresh' | 'nothing-pending';

export async function enrich(deps: EnrichDeps, job: EnrichJob): Promise<EnrichOutcome> {
  const { cams, ledger, throttle } = deps;
  const key = job.data;
  const log = deps.log.child({ jobId: job.id, phone: maskPhone(key.phoneNumber) });

  const check = await ledger.checkPending(key);
  if (check.kind === 'nothing-pending') {
    log.debug('no run waits for this number any more; no call');
    return 'nothing-pending';
  }
  if (check.kind === 'fresh') {
    await ledger.settleFromStore(key);
    log.debug('stored profile is fresh; no call');
    return 'fresh';
  }

  let profile;
  try {
    await deps.gate.acquire();
    profile = await cams.queryPhoneBusinessProfile({
      custSpaceId: key.custSpaceId,
      phoneNumber: key.phoneNumber,
    });
  } catch (err) {
    throw await handleFailure(deps, job, log, err);
  }
  throttle.reset();
  const settled = await ledger.recordProfile(key, profile);
  log.debug({ requestId: profile.requestId, runs: settled }, 'profile stored');
  return 'enriched';
}

/** Records what must be recorded and returns the error that tells BullMQ what to do next. */
async function handleFailure(deps: EnrichDeps, job: EnrichJob, log: Logger, err: unknown): Promise<Error> {
  const { ledger, fleet, throttle } = deps;
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
    );
  }
  const fields = { code: err.code, requestId: err.requestId, httpStatus: err.httpStatus };
  switch (err.classification) {
    case 'throttled': {
      if (job.attemptsStarted >= (deps.maxThrottledStarts ?? 50)) {
        await ledger.recordFailure(
          key,
          err.code,
          `throttled on ${job.attemptsStarted} attempts: ${err.upstreamMessage}`,
        );
        log.error(fields, 'number throttled too often; failed');
        return new UnrecoverableError(err.message);
      }
      const ms = throttle.next();
      log.warn(
        { ...fields, pauseMs: ms, streak: throttle.streak },
        'throttled by CAMS; backing off the whole queue',
      );
      await fleet.backOff(ms);
      return Worker.RateLimitError();
    }
    case 'permanent':
      if (err.scope === 'account') {
        log.fatal(
          fields,
          `CAMS refuses this account (${err.code}): queue paused; fix the account, then run "cams-enrich resume"`,
        );
        await fleet.pauseForAccount(err);
        return Worker.RateLimitError();
      }
      await ledger.recordFailure(key, err.code, err.upstreamMessage, { final: true });
      log.warn(fields, 'CAMS refused this number; failed');
      return new UnrecoverableError(err.message);
    case 'transient':
      return finalIfLastAttempt(deps, job, log, err.code, err.upstreamMessage, err);
  }
}

async function finalIfLastAttempt(
  deps: EnrichDeps,
  job: EnrichJob,
  log: Logger,
  code: string,
  message: string,
  err: unknown,
): Promise<Error> {
  const attempts = job.opts.attempts ?? 1;
  const last = job.attemptsMade + 1 >= attempts;
  if (last) {
    await deps.ledger.recordFailure(job.data, code, message);
    log.error({ code, attempts }, 'failed after the last attempt');
    return new UnrecoverableError(`${code}: ${message}`);
  }
  log.warn({ code, attempt: job.attemptsMade + 1, attempts }, 'transient failure; will retry');
  return err instanceof Error ? err : new Error(String(err));
}
