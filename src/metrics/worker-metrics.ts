/**
 * The Prometheus metrics of one worker process (prom-client), fed by the processor through the
 * `EnrichObserver` it receives. Each process has a registry of its own; `fleet-metrics.ts` carries it
 * to Redis so the dashboard can add every process's counters up.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * What became of one request sent to CAMS: `enriched` (a profile came back), `failed_permanent` (CAMS
 * refused the number or its space: its rows fail), `throttled`, `transient` (a fault worth a retry: a
 * 5xx, a timeout, a reset connection; retried, or failed after the last attempt), `unreachable` (the
 * endpoint could not be reached: the fleet waits), `account_refused` (the account or its key: the
 * queue pauses), `clock_refused` (this machine's clock: the worker stops), `error` (no CAMS error: a bug).
 */
export const CALL_OUTCOMES = [
  'enriched',
  'failed_permanent',
  'throttled',
  'transient',
  'unreachable',
  'account_refused',
  'clock_refused',
  'error',
] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

/** One request sent to CAMS and its answer. */
export interface CallReport {
  /** `OK` or the error code. */
  code: string;
  /** From sending the request to its answer. */
  seconds: number;
  outcome: CallOutcome;
  /** The customer space the number belongs to (a label only with `spaceLabels`). */
  space: string;
}

/** What the processor reports, one method per event; every method is cheap and never throws. */
export interface EnrichObserver {
  /** A request sent to CAMS and answered (or given up on). */
  called(call: CallReport): void;
  /** A call not made: the stored answer was fresh, or no run waited for the number any more. */
  saved(reason: 'fresh' | 'nothing-pending'): void;
}

export interface WorkerMetrics extends EnrichObserver {
  readonly registry: Registry;
}

/** Metric names, for docs/monitoring.md and the dashboard. */
export const METRIC = {
  calls: 'cams_enrich_cams_calls_total',
  outcomes: 'cams_enrich_cams_call_outcomes_total',
  spaceOutcomes: 'cams_enrich_space_call_outcomes_total',
  throttled: 'cams_enrich_cams_throttled_total',
  saved: 'cams_enrich_calls_saved_total',
  latency: 'cams_enrich_cams_call_duration_seconds',
  // Read by the dashboard from the fleet's rate controller in Redis, not from workers:
  backoff: 'cams_enrich_backoff_seconds',
  rateLimit: 'cams_enrich_rate_limit_per_second',
  quota: 'cams_enrich_quota_per_second',
  throttlesLastMinute: 'cams_enrich_throttles_last_minute',
  // About the process itself, for the dashboard's fleet page:
  processes: 'cams_enrich_worker_processes',
  concurrency: 'cams_enrich_worker_concurrency',
  startTime: 'cams_enrich_worker_start_time_seconds',
} as const;

/** Upstream codes look like `System.LimitControl`; anything else is labelled `OTHER`, so no label carries data. */
export function codeLabel(code: string): string {
  return /^[A-Za-z][A-Za-z0-9._-]{0,63}$/.test(code) ? code : 'OTHER';
}

export interface WorkerMetricsOptions {
  /**
   * Also count each space's requests by outcome (`METRICS_SPACE_LABELS`): one series per space and
   * outcome, so as many series as the fleet serves spaces. Default false.
   */
  spaceLabels?: boolean;
  /** The process's own figures, published as gauges (the fleet's sums in /metrics; each process's on the fleet page). */
  process?: { version: string; concurrency: number; startedAt?: Date };
}

export function createWorkerMetrics(options: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = new Registry();
  const calls = new Counter({
    name: METRIC.calls,
    help: 'CAMS QueryPhoneBusinessProfile calls by answer code (OK or the error code)',
    labelNames: ['code'],
    registers: [registry],
  });
  const outcomes = new Counter({
    name: METRIC.outcomes,
    help: 'CAMS QueryPhoneBusinessProfile calls by what became of them (enriched, failed_permanent, throttled, transient, unreachable, account_refused, clock_refused, error)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const spaceOutcomes = options.spaceLabels
    ? new Counter({
        name: METRIC.spaceOutcomes,
        help: 'CAMS QueryPhoneBusinessProfile calls by customer space and outcome (METRICS_SPACE_LABELS)',
        labelNames: ['space', 'outcome'],
        registers: [registry],
      })
    : undefined;
  const throttled = new Counter({
    name: METRIC.throttled,
    help: 'CAMS calls refused for the rate limit (System.LimitControl)',
    registers: [registry],
  });
  const saved = new Counter({
    name: METRIC.saved,
    help: 'CAMS calls not made by workers: stored answer still fresh, or no run waits for the number',
    labelNames: ['reason'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: METRIC.latency,
    help: 'Time from sending a CAMS call to its answer',
    buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10],
    registers: [registry],
  });
  if (options.process) {
    new Gauge({
      name: METRIC.processes,
      help: 'Worker processes alive, by cams-enrich version',
      labelNames: ['version'],
      registers: [registry],
      aggregator: 'sum',
    }).set({ version: options.process.version }, 1);
    new Gauge({
      name: METRIC.concurrency,
      help: 'Jobs the workers take at once (WORKER_CONCURRENCY), summed over the fleet',
      registers: [registry],
      aggregator: 'sum',
    }).set(options.process.concurrency);
    // Each process's own, for its uptime; a sum of start times means nothing, so /metrics leaves it out.
    new Gauge({
      name: METRIC.startTime,
      help: 'When the worker process started, seconds since the epoch',
      registers: [registry],
      aggregator: 'omit',
    }).set((options.process.startedAt ?? new Date()).getTime() / 1000);
  }
  // Known outcomes start at zero, so rate() has a series before the first event.
  calls.inc({ code: 'OK' }, 0);
  for (const outcome of CALL_OUTCOMES) outcomes.inc({ outcome }, 0);
  saved.inc({ reason: 'fresh' }, 0);
  saved.inc({ reason: 'nothing_pending' }, 0);
  throttled.inc(0);
  return {
    registry,
    called({ code, seconds, outcome, space }) {
      calls.inc({ code: codeLabel(code) });
      outcomes.inc({ outcome });
      spaceOutcomes?.inc({ space, outcome });
      latency.observe(seconds);
      if (outcome === 'throttled') throttled.inc();
    },
    saved(reason) {
      saved.inc({ reason: reason === 'fresh' ? 'fresh' : 'nothing_pending' });
    },
  };
}
