/**
 * `/metrics`: BullMQ's own queue gauges and counters (`queue.exportPrometheusMetrics`), the fleet's
 * counters added up from every worker's snapshot in Redis, and a few gauges the dashboard reads itself
 * (connected workers, paused, numbers pending in PostgreSQL).
 */
import type { QueueStore } from '../queue/queue-store.js';
import { Gauge, Registry } from 'prom-client';
import type { Queryable } from '../db/pool.js';
import { countPendingNumbers } from '../db/sql/count-pending-numbers.js';
import { countRunsByPhase } from '../db/sql/count-runs-by-phase.js';
import { openRunsPending } from '../db/sql/open-runs-pending.js';
import type { FleetSnapshot } from '../queue/queue-store.js';
import { METRIC } from '../metrics/worker-metrics.js';
import type { EnrichQueue } from '../queue/queue.js';
import { readQueueLimiter } from '../queue/queue-account.js';
import type { QueueLimiter } from '../queue/queue-account.js';
import type { LimiterState } from '../queue/rate-controller.js';

export interface DashboardMetrics {
  readonly contentType: string;
  /** The whole `/metrics` answer. */
  text(): Promise<string>;
  /** Every worker's metrics added up. */
  fleet(): Promise<FleetSnapshot>;
  /** The fleet's CAMS calls so far, all codes. */
  fleetCalls(): Promise<number>;
  /** The account's rate controller: quota, allowed rate, pause, throttles (shared by every worker in Redis). */
  limiter(): Promise<QueueLimiter>;
}

/** The value of a gauge or the sum of a counter's series in a registry, or undefined when absent. */
export async function metricValue(registry: Registry, name: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

export function createDashboardMetrics(deps: {
  pool: Queryable;
  store: QueueStore;
  queue: EnrichQueue;
  /** `CAMS_RATE_LIMIT`: shown while no worker stored the fleet's quota. */
  quota: number;
  /** The account the configuration names (`configuredAccount`), while no worker recorded the queue's. */
  account: string | undefined;
}): DashboardMetrics {
  const { pool, store, queue, quota, account } = deps;
  const limiter = () => readQueueLimiter(store, queue, { account, quota });
  const own = new Registry();
  new Gauge({
    name: 'cams_enrich_workers_connected',
    help: 'Worker processes of the queue alive on its queue store (from their heartbeats)',
    registers: [own],
    async collect() {
      this.set(await store.countLiveProcesses(queue));
    },
  });
  new Gauge({
    name: 'cams_enrich_queue_paused',
    help: '1 while the queue is paused (see the runs page or `status` for why)',
    registers: [own],
    async collect() {
      this.set((await queue.isPaused()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cams_enrich_numbers_pending',
    help: 'Numbers of unfinished runs still waiting for an answer (PostgreSQL, not only what is in Redis)',
    registers: [own],
    async collect() {
      this.set(await countPendingNumbers(pool, queue.name));
    },
  });
  new Gauge({
    name: 'cams_enrich_runs',
    help: "The queue's runs by phase (importing, running, finished, aborted, cancelled)",
    labelNames: ['phase'],
    registers: [own],
    async collect() {
      const counts = await countRunsByPhase(pool, queue.name);
      this.reset();
      for (const phase of ['importing', 'running', 'finished', 'aborted', 'cancelled'])
        this.set({ phase }, counts[phase] ?? 0);
    },
  });
  new Gauge({
    name: 'cams_enrich_run_pending',
    help: 'Numbers still pending in each importing or running run of the queue, with its phase and priority',
    labelNames: ['run', 'phase', 'priority'],
    registers: [own],
    async collect() {
      const runs = await openRunsPending(pool, queue.name);
      this.reset();
      for (const r of runs) this.set({ run: String(r.id), phase: r.phase, priority: r.priority }, r.pending);
    },
  });
  const fromLimiter = (name: string, help: string, read: (s: LimiterState) => number) =>
    new Gauge({
      name,
      help,
      registers: [own],
      async collect() {
        this.set(read(await limiter()));
      },
    });
  fromLimiter(
    METRIC.quota,
    "The account's quota, calls per second, as stored with the fleet's rate controller",
    (s) => s.quota,
  );
  fromLimiter(
    METRIC.rateLimit,
    'Calls per second the fleet allows itself now (adaptive, at most the quota)',
    (s) => s.allowedRate,
  );
  fromLimiter(
    METRIC.backoff,
    'Pause of every call left after throttling or an unreachable endpoint, seconds',
    (s) => s.pausedForMs / 1000,
  );
  fromLimiter(
    METRIC.throttlesLastMinute,
    'Throttles the fleet reported in the last 60 s',
    (s) => s.throttlesLastMinute,
  );
  const fleet = () => store.readFleetMetrics(queue);
  return {
    contentType: own.contentType,
    async text() {
      const [bull, f, mine] = await Promise.all([queue.exportPrometheusMetrics(), fleet(), own.metrics()]);
      return `${bull}\n${await f.registry.metrics()}\n${mine}`;
    },
    fleet,
    limiter,
    async fleetCalls() {
      return (await metricValue((await fleet()).registry, METRIC.calls)) ?? 0;
    },
  };
}
