/**
 * Wires the processor into a BullMQ Worker: the global limiter, the feeder that keeps Redis topped up,
 * the fleet controls (back off, pause) and an ordered, idempotent close.
 */
import { MetricsTime } from 'bullmq';
import type { Job } from 'bullmq';
import type { QueueStore } from '../src/queue/queue-store.js';
import type { CamsClient } from '../src/cams/cams-client.js';
import type { CamsError } from '../src/cams/cams-error.js';
import {
  clearAlertWithCode,
  createLedger,
  raiseAlert,
  raiseAlertIfNone,
  recordFailure,
} from '../src/db/ledger.js';
import { UNREACHABLE_CODES } from '../src/cams/cams-error.js';
import type { Pool } from '../src/db/pool.js';
import { pgErrorFields } from '../src/db/pool.js';
import { createCallCounter } from '../src/db/call-counter.js';
import { abortAbandonedImports } from '../src/db/import-liveness.js';
import { cancelLeftovers } from '../src/db/sql/cancel-leftovers.js';
import { retryingLedger } from '../src/db/retrying-ledger.js';
import type { Logger } from '../src/log.js';
import { repeatLimitedLog } from '../src/log-repeats.js';
import { maskPhone } from '../src/mask.js';
import type { CallGate } from '../src/queue/call-gate.js';
import { orderByPriority } from '../src/queue/priority-gate.js';
import { claimQuota, createRateController } from '../src/queue/rate-controller.js';
import type { RateStateStore, RateTuning } from '../src/queue/rate-controller.js';
import { createWorkerMetrics } from '../src/metrics/worker-metrics.js';
import { packageVersion } from '../src/package-root.js';
import { createFeeder } from '../src/queue/feeder.js';
import { requeueLostJobs } from '../src/queue/lost-jobs.js';
import type { EnrichJobData } from '../src/queue/queue.js';
import { limiterFor } from '../src/queue/queue.js';
import { startPeriodic } from '../src/periodic.js';
import { runCleanups } from '../src/resources.js';
import { startRunWatch } from '../src/runs/run-watch.js';
import type { FleetControl } from './enrich.js';
import { enrich } from './enrich.js';

export interface EnrichWorkerOptions {
  queueName: string;
  /**
   * Where the queue is (`openQueueStore`): on Redis, a worker's connection (`maxRetriesPerRequest:
   * null`). The caller closes it after `close()`.
   */
  store: QueueStore;
  pool: Pool;
  cams: CamsClient;
  log: Logger;
  /** Calls per second for the account, shared by every worker of the queue: the fleet's stored quota. */
  ratePerSecond: number;
  /**
   * The account whose quota the rate controller keeps (`resolveAccount`); every queue of the account
   * shares it. Recorded under the queue's keys for `status` and the dashboard.
   */
  account: string;
  /**
   * How often the stored quota is read again (a worker started with `--set-quota` may have changed it),
   * which also keeps it alive in Redis, in ms. Default 30000.
   */
  quotaCheckIntervalMs?: number;
  /** Attempts for transient faults. */
  attempts: number;
  /** Jobs processed at once by this process. Default 4 (enough for 10/s at up to ~400 ms per call). */
  concurrency?: number;
  /** Most unfinished jobs the feeder keeps in Redis. Default 10000. */
  highWater?: number;
  /** How often the feeder tops Redis up, in ms. Default 500. */
  feedIntervalMs?: number;
  /** Seconds of the fleet's work (at `ratePerSecond`) the feeder keeps ready in Redis. Default 3. */
  bufferSeconds?: number;
  /** How often queued numbers whose job Redis lost are put back (lost jobs), in ms. Default 60000. */
  lostJobsIntervalMs?: number;
  /** How often runs whose importer is gone are aborted, in ms. Default 15000. */
  abandonedImportsIntervalMs?: number;
  /** First retry delay for transient faults in ms. Default 1000. */
  backoffMs?: number;
  /**
   * The gate every call passes. Default: the fleet's rate controller (`src/queue/rate-controller.ts`)
   * for `ratePerSecond` with `tuning`, shared through the store by every worker of the queue.
   */
  gate?: CallGate;
  /**
   * How long a job keeps retrying a ledger operation through a PostgreSQL outage, in ms, before it is
   * given back to the queue (a fetched profile is kept in memory meanwhile). Default 60000.
   */
  databaseRetryMs?: number;
  /**
   * Where the account's rate controller keeps its state. Default: the store's (`store.rateState`).
   */
  rateState?: RateStateStore;
  /** Overrides of the rate controller's tuning (`DEFAULT_TUNING`). Default none. */
  tuning?: Partial<RateTuning>;
  /**
   * Told of every error the Worker and its queue emit, after it is logged (repeats are logged once a
   * minute with a count); the worker command stops on a misconfigured Redis. Default: nobody.
   */
  onError?: (err: Error) => void;
  /**
   * Told when CAMS refuses this machine's request time (`InvalidTimeStamp.Expired`); the number goes
   * back to the queue either way. The worker command stops the worker. Default: nobody.
   */
  onClockOff?: (error: CamsError) => void;
  /** Count each customer space's calls by outcome too (`METRICS_SPACE_LABELS`). Default false. */
  metricsSpaceLabels?: boolean;
}

export interface EnrichWorker {
  /**
   * Stops taking jobs at once, sends jobs still waiting for a call slot back to the queue (no attempt
   * spent), stops the feeder, lets calls under way finish and be stored, closes the queue. With
   * `force` (also after a graceful close began), calls under way are abandoned too and BullMQ does
   * not wait for the jobs in hand: their lock expires and stall recovery gives them to another worker.
   * Idempotent; resolves when the graceful (or forced) close is complete.
   */
  close(force?: boolean): Promise<void>;
}

/**
 * The Worker's `'failed'` listener. The processor records every final failure it decides; a job BullMQ
 * fails on its own (stalled more often than `maxStalledCount`: BullMQ fails it when it is next picked
 * up, without running the processor) is recorded here as `JOB_FAILED`. `recordFailure` only touches
 * rows still pending, so a failure the processor already recorded is left as it is.
 */
export function recordJobFailed(
  pool: Pool,
  log: Logger,
): (job: Job<EnrichJobData> | undefined, err: Error) => void {
  return (job, err) => {
    if (!job || (job.attemptsMade < (job.opts.attempts ?? 1) && err.name !== 'UnrecoverableError')) return;
    recordFailure(pool, job.data, 'JOB_FAILED', err.message).catch((e: unknown) =>
      log.error({ err: e, phone: maskPhone(job.data.phoneNumber) }, 'could not record a failed job'),
    );
  };
}

export function startEnrichWorker(options: EnrichWorkerOptions): EnrichWorker {
  const { pool, log, store, queueName } = options;
  const queue = store.queue<EnrichJobData>(queueName);
  const report = repeatLimitedLog(log);
  queue.on('error', (err) => {
    report('error', err, 'queue error');
    options.onError?.(err);
  });
  const ledger = retryingLedger(createLedger(pool), {
    budgetMs: options.databaseRetryMs,
    onRetry: (err, ms) =>
      log.warn({ err: pgErrorFields(err), retryInMs: ms }, 'PostgreSQL unavailable; retrying'),
  });
  const fleet: FleetControl = {
    async pauseForAccount(error: CamsError) {
      await raiseAlert(pool, queueName, error.code, error.message);
      await queue.pause();
    },
    alertUnreachable: (error, downForMs) =>
      raiseAlertIfNone(
        pool,
        queueName,
        error.code,
        `CAMS endpoint unreachable for ${Math.round(downForMs / 1000)} s (${error.upstreamMessage}); every call waits, no attempt is spent`,
      ),
    clearUnreachable: () => clearAlertWithCode(pool, queueName, UNREACHABLE_CODES),
  };
  const rateState = options.rateState ?? store.rateState(options.account);
  void store
    .recordQueueAccount(queue, options.account)
    .catch((err: unknown) => log.warn({ err }, "could not record the queue's account"));
  const gate =
    options.gate ??
    createRateController({
      state: rateState,
      quota: options.ratePerSecond,
      tuning: options.tuning,
    });
  const stopping = new AbortController();
  const metrics = createWorkerMetrics({
    spaceLabels: options.metricsSpaceLabels,
    process: { version: packageVersion(), concurrency: options.concurrency ?? 4 },
  });
  const publisher = store.startMetricsPublisher({
    queue,
    registry: metrics.registry,
    log,
  });
  const watch = startRunWatch({ db: pool, queue, log });
  const calls = createCallCounter(pool, log);
  // A process's waiting calls take their slots by their jobs' priorities.
  const gateOf = orderByPriority(gate);
  const deps = {
    cams: options.cams,
    gate,
    ledger,
    log,
    fleet,
    stopping: stopping.signal,
    observer: metrics,
    onClockOff: options.onClockOff,
    calls,
  };
  const jobOptions = { attempts: options.attempts, backoffMs: options.backoffMs };
  const feeder = createFeeder({
    pool,
    queue,
    log,
    highWater: options.highWater,
    ratePerSecond: options.ratePerSecond,
    bufferSeconds: options.bufferSeconds,
    jobOptions,
  });

  const worker = store.worker<EnrichJobData>(
    queueName,
    (job: Job<EnrichJobData>, _token?: string, signal?: AbortSignal) =>
      enrich({ ...deps, gate: gateOf(job.priority) }, job, signal),
    {
      concurrency: options.concurrency ?? 4,
      limiter: limiterFor(options.ratePerSecond),
      // Finished jobs live on in PostgreSQL; see enrichJobOptions.
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
      // Per-minute completed/failed counts kept in Redis for Bull Board and `/metrics`.
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    },
  );
  worker.on('error', (err) => {
    report('error', err, 'worker error');
    options.onError?.(err);
  });
  // The rate controller's scripts read the stored quota themselves; BullMQ's limiter follows it here.
  let quota = options.ratePerSecond;
  const quotaCheck = startPeriodic(
    options.quotaCheckIntervalMs ?? 30_000,
    async () => {
      const claim = await claimQuota(rateState, quota);
      if (claim.quota === quota) return;
      log.info({ quota: claim.quota, previous: quota }, "the fleet's quota changed; following it");
      quota = claim.quota;
      worker.opts.limiter = limiterFor(quota);
    },
    (err) => log.warn({ err }, 'reading the fleet quota failed; will retry'),
  );
  worker.on('failed', recordJobFailed(pool, log));
  feeder.start(options.feedIntervalMs ?? 500);
  void feeder.fill().catch((err: unknown) => log.warn({ err }, 'first feed failed; will retry'));

  // A number fed again for another run just as its job finished, or a job lost with Redis's data,
  // would leave its rows queued with no job: a lost job, put back here. Rows queued under a minute ago
  // are left alone, so it never races the feeder.
  const lostJobsMs = options.lostJobsIntervalMs ?? 60_000;
  const lostJobs = startPeriodic(
    lostJobsMs,
    async () => {
      const n = await requeueLostJobs({
        pool,
        queue,
        store,
        queuedBeforeSeconds: lostJobsMs / 1000,
      });
      if (n > 0) log.warn({ requeued: n }, 'put back numbers whose job Redis no longer had');
      // Of a cancelled run, such a number is not fed again: it is cancelled like the run's others.
      const left = await cancelLeftovers(pool, queueName);
      if (left > 0)
        log.info({ cancelled: left }, 'cancelled numbers of cancelled runs whose job Redis no longer had');
    },
    (err) => log.warn({ err }, 'looking for lost jobs failed; will retry'),
  );

  // A run left `importing` by an importer that died is aborted, its accounting kept (import-liveness.ts).
  const reaper = startPeriodic(
    options.abandonedImportsIntervalMs ?? 15_000,
    () => abortAbandonedImports(pool, log),
    (err) => log.warn({ err: pgErrorFields(err) }, 'looking for abandoned imports failed; will retry'),
  );

  let closing: Promise<void> | undefined;
  return {
    close(force = false) {
      stopping.abort();
      // Cancelling aborts each job's own signal, which also ends the CAMS call it waits for.
      if (force) worker.cancelAllJobs('forced stop');
      closing ??= (async () => {
        // Stop taking jobs first, so nothing new starts while the rest winds down.
        const stopped = worker.close(force);
        await runCleanups([
          () => quotaCheck.stop(),
          () => lostJobs.stop(),
          () => reaper.stop(),
          () => feeder.stop(),
          () => watch.stop(),
          () => stopped,
          // After the jobs in hand: their last requests are counted too.
          () => calls.close(),
          () => publisher.close(),
          () => queue.close(),
        ]);
      })();
      return closing;
    },
  };
}
