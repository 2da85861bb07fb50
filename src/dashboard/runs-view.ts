/**
 * `/api/runs`: what the runs list shows, as JSON: one page of the queue's runs (newest first, filtered),
 * the queue's state and the fleet's call rate. Numbers appear masked only.
 */
import type { QueueStore } from '../queue/queue-store.js';
import type { Config } from '../config.js';
import { failuresByCode } from '../db/sql/failures-by-code.js';
import type { Queryable } from '../db/pool.js';
import { maskPhone } from '../mask.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { QueueStatus, RunStatus } from '../runs/status.js';
import { queueStatus, runStatuses } from '../runs/status.js';
import { countRunsMatching } from '../db/sql/count-runs-matching.js';
import type { RunsFilter } from '../db/sql/runs-page.js';
import { runsPage } from '../db/sql/runs-page.js';
import type { CallRatePoint } from './call-rate.js';
import type { DashboardMetrics } from './metrics.js';

export interface RunView extends RunStatus {
  /** The customer space of every row (`--space`); null when the rows carry their own. */
  space: string | null;
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
  /** The page shown (1 = newest runs), its size, and how many runs match the filter in all. */
  page: number;
  limit: number;
  matching: number;
  /** The filter applied, as given (absent: any). */
  filter: Omit<RunsFilter, 'queue'>;
  runs: RunView[];
}

/** Which runs to list: a page of `limit` (at most 200), 1-based, and the filter. */
export interface RunsQuery {
  page: number;
  limit: number;
  filter: Omit<RunsFilter, 'queue'>;
}

export async function readRunsView(deps: {
  config: Config;
  pool: Queryable;
  queue: EnrichQueue;
  /** The queue's store. */
  store: QueueStore;
  fleet: DashboardMetrics;
  calls: CallRatePoint[];
  canAct: boolean;
  query: RunsQuery;
}): Promise<RunsView> {
  const { pool, queue, query } = deps;
  const filter: RunsFilter = { queue: queue.name, ...query.filter };
  const [q, listed, matching, fleet, limiter] = await Promise.all([
    queueStatus(pool, queue, deps.store),
    runsPage(pool, { ...filter, limit: query.limit, offset: (query.page - 1) * query.limit }),
    countRunsMatching(pool, filter),
    deps.fleet.fleet(),
    deps.fleet.limiter(),
  ]);
  const runs = await runStatuses(pool, queue.name, listed);
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
    page: query.page,
    limit: query.limit,
    matching,
    filter: query.filter,
    runs: runs.map((r, i) => ({
      ...r,
      space: listed[i]?.space ?? null,
      callsMade: r.enriched + r.failed,
      callsSaved: r.skipped + r.duplicate,
      failures: failures
        .filter((f) => f.runId === r.run)
        .map((f) => ({ code: f.code, count: f.count, examples: f.examples.map(maskPhone) })),
    })),
  };
}
