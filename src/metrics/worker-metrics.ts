/**
 * The Prometheus metrics of one worker process (prom-client), fed by the processor through the
 * `EnrichObserver` it receives. Each process has a registry of its own; `fleet-metrics.ts` carries it
 * to Redis so the dashboard can add every process's counters up.
 */
import { Counter, Histogram, Registry } from 'prom-client';

/** What the processor reports, one method per event; every method is cheap and never throws. */
export interface EnrichObserver {
  /** A CAMS call answered (`code` is `OK` or the error code) after `seconds`. */
  called(code: string, seconds: number, throttled: boolean): void;
  /** A call not made: the stored answer was fresh, or no run waited for the number any more. */
  saved(reason: 'fresh' | 'nothing-pending'): void;
}

export interface WorkerMetrics extends EnrichObserver {
  readonly registry: Registry;
}

/** Metric names, for docs/monitoring.md and the dashboard. */
export const METRIC = {
  calls: 'cams_enrich_cams_calls_total',
  throttled: 'cams_enrich_cams_throttled_total',
  saved: 'cams_enrich_calls_saved_total',
  latency: 'cams_enrich_cams_call_duration_seconds',
  // Read by the dashboard from the fleet's rate controller in Redis, not from workers:
  backoff: 'cams_enrich_backoff_seconds',
  rateLimit: 'cams_enrich_rate_limit_per_second',
  quota: 'cams_enrich_quota_per_second',
  throttlesLastMinute: 'cams_enrich_throttles_last_minute',
} as const;

/** Upstream codes look like `System.LimitControl`; anything else is labelled `OTHER`, so no label carries data. */
export function codeLabel(code: string): string {
  return /^[A-Za-z][A-Za-z0-9._-]{0,63}$/.test(code) ? code : 'OTHER';
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  const calls = new Counter({
    name: METRIC.calls,
    help: 'CAMS QueryPhoneBusinessProfile calls by answer code (OK or the error code)',
    labelNames: ['code'],
    registers: [registry],
  });
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
  // Known outcomes start at zero, so rate() has a series before the first event.
  calls.inc({ code: 'OK' }, 0);
  saved.inc({ reason: 'fresh' }, 0);
  saved.inc({ reason: 'nothing_pending' }, 0);
  throttled.inc(0);
  return {
    registry,
    called(code, seconds, wasThrottled) {
      calls.inc({ code: codeLabel(code) });
      latency.observe(seconds);
      if (wasThrottled) throttled.inc();
    },
    saved(reason) {
      saved.inc({ reason: reason === 'fresh' ? 'fresh' : 'nothing_pending' });
    },
  };
}
