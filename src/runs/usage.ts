/**
 * What each customer space used, as `usage` and `status` show it: the counts of `usage_counts` (one per
 * metric) folded into one figure per day and space, per space over the period, or per run.
 */
import type { Queryable } from '../db/pool.js';
import { usageByDay } from '../db/sql/usage-by-day.js';
import { usageByRun } from '../db/sql/usage-by-run.js';

/** Usage figures: requests, the calls saved, and how the rows ended. */
export interface Usage {
  /** Requests a worker sent to CAMS, throttled and retried ones included. */
  calls: number;
  /** Of those, answered with a throttle (System.LimitControl). */
  throttled: number;
  /** Requests sent by `cams-enrich lookup` (not in `calls`). */
  lookups: number;
  /** Rows settled without a request of their own: a stored answer still fresh, or a duplicate row. */
  saved: { fresh: number; duplicate: number };
  /** Rows enriched by a request. */
  enriched: number;
  /** Rows failed, by classification (`permanent`, `transient`, `throttled`, `aborted`, `other`). */
  failed: Record<string, number>;
}

export interface DayUsage extends Usage {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  space: string;
}

export interface SpaceUsage extends Usage {
  space: string;
}

export interface UsageReport {
  since: string;
  /** One entry per UTC day and space with any figure, oldest first. */
  days: DayUsage[];
  /** The period's totals per space. */
  spaces: SpaceUsage[];
}

export function emptyUsage(): Usage {
  return { calls: 0, throttled: 0, lookups: 0, saved: { fresh: 0, duplicate: 0 }, enriched: 0, failed: {} };
}

function addMetric(u: Usage, metric: string, n: number): void {
  if (metric === 'calls') u.calls += n;
  else if (metric === 'throttled') u.throttled += n;
  else if (metric === 'lookups') u.lookups += n;
  else if (metric === 'saved_fresh') u.saved.fresh += n;
  else if (metric === 'saved_duplicate') u.saved.duplicate += n;
  else if (metric === 'enriched') u.enriched += n;
  else if (metric.startsWith('failed_')) {
    const c = metric.slice('failed_'.length);
    u.failed[c] = (u.failed[c] ?? 0) + n;
  }
}

/** The figures from `since` (a UTC day, `YYYY-MM-DD`) on, for one space or all. */
export async function usageReport(
  db: Queryable,
  options: { since: string; space?: string | undefined },
): Promise<UsageReport> {
  const counts = await usageByDay(db, { since: options.since, custSpaceId: options.space });
  const days = new Map<string, DayUsage>();
  const spaces = new Map<string, SpaceUsage>();
  for (const c of counts) {
    const id = `${c.day}\u0000${c.custSpaceId}`;
    let d = days.get(id);
    if (!d) days.set(id, (d = { day: c.day, space: c.custSpaceId, ...emptyUsage() }));
    addMetric(d, c.metric, c.n);
    let s = spaces.get(c.custSpaceId);
    if (!s) spaces.set(c.custSpaceId, (s = { space: c.custSpaceId, ...emptyUsage() }));
    addMetric(s, c.metric, c.n);
  }
  return {
    since: options.since,
    days: [...days.values()],
    spaces: [...spaces.values()].sort((a, b) => (a.space < b.space ? -1 : a.space > b.space ? 1 : 0)),
  };
}

/** Each run's figures, by run id (a run with none has empty figures). */
export async function runUsage(db: Queryable, runIds: readonly number[]): Promise<Map<number, Usage>> {
  const byRun = new Map<number, Usage>(runIds.map((id) => [id, emptyUsage()]));
  for (const c of await usageByRun(db, runIds)) {
    const u = byRun.get(c.runId);
    if (u) addMetric(u, c.metric, c.n);
  }
  return byRun;
}

/** `calls 12 (throttled 2), saved 5 (fresh 3, duplicate 2), enriched 8, failed 1 (permanent 1)`. */
export function describeUsage(u: Usage): string {
  const failed = Object.entries(u.failed).filter(([, n]) => n > 0);
  const failedTotal = failed.reduce((sum, [, n]) => sum + n, 0);
  const parts = [
    `calls ${u.calls} (throttled ${u.throttled})`,
    `saved ${u.saved.fresh + u.saved.duplicate} (fresh ${u.saved.fresh}, duplicate ${u.saved.duplicate})`,
    `enriched ${u.enriched}`,
    `failed ${failedTotal}${failed.length > 0 ? ` (${failed.map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}`,
  ];
  if (u.lookups > 0) parts.push(`lookups ${u.lookups}`);
  return parts.join(', ');
}
