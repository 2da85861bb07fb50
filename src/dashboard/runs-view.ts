/**
 * `/api/runs`: what the runs page shows, as JSON. Numbers appear masked only.
 */
import type { RedisClient } from '../queue/redis-script.js';
import type { Config } from '../config.js';
import { failuresByCode } from '../db/sql/failures-by-code.js';
import type { Queryable } from '../db/pool.js';
import { maskPhone } from '../mask.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { QueueStatus, RunStatus } from '../runs/status.js';
import { allRunStatuses, queueStatus } from '../runs/status.js';
import type { CallRatePoint } from './call-rate.js';
import type { DashboardMetrics } from './metrics.js';

export interface RunView extends RunStatus {
  /** Numbers answered by CAMS: enriched + failed. */
  callsMade: number;
  /** Numbers that needed no call: skipped (fresh) + duplicate. */
  callsSaved: number;
  failures: Array<{ code: string; count: number; examples: string[] }>;
}

export interface RunsView {
  queue: QueueStatus;
  /** The account's calls per second, as stored with the fleet's rate controller. */
  quota: number;
  /** The rate the fleet allows itself now (adaptive, at most the quota); null before the first call. */
  rateLimit: number | null;
  /** Pause of every call left after throttling or an unreachable endpoint, seconds. */
  backoffSeconds: number;
  /** Throttles the fleet reported in the last minute. */
  throttlesLastMinute: number;
  /** Worker processes whose metrics are live. */
  reportingWorkers: number;
  /** CAMS calls per second of the whole fleet, oldest first. */
  calls: CallRatePoint[];
  /** Whether this request may use actions (resume): only with a token. */
  canAct: boolean;
  runs: RunView[];
}

export async function readRunsView(deps: {
  config: Config;
  pool: Queryable;
  queue: EnrichQueue;
  /** A connection to the queue's Redis database. */
  redis: RedisClient;
  fleet: DashboardMetrics;
  calls: CallRatePoint[];
  canAct: boolean;
}): Promise<RunsView> {
  const { pool, queue } = deps;
  const [q, runs, fleet, limiter] = await Promise.all([
    queueStatus(pool, queue, deps.redis),
    allRunStatuses(pool, queue.name),
    deps.fleet.fleet(),
    deps.fleet.limiter(),
  ]);
  const failures = await failuresByCode(
    pool,
    runs.filter((r) => r.failed > 0).map((r) => r.run),
  );
  return {
    queue: q,
    quota: limiter.quota,
    rateLimit: limiter.active ? limiter.allowedRate : null,
    backoffSeconds: limiter.pausedForMs / 1000,
    throttlesLastMinute: limiter.throttlesLastMinute,
    reportingWorkers: fleet.processes,
    calls: deps.calls,
    canAct: deps.canAct,
    runs: runs.map((r) => ({
      ...r,
      callsMade: r.enriched + r.failed,
      callsSaved: r.skipped + r.duplicate,
      failures: failures
        .filter((f) => f.runId === r.run)
        .map((f) => ({ code: f.code, count: f.count, examples: f.examples.map(maskPhone) })),
    })),
  };
}
