/** The newest `limit` ticks of each schedule of a queue named, newest first. */
import type { Queryable } from '../pool.js';
import { toTick } from './latest-ticks.js';
import type { Tick, TickRow } from './latest-ticks.js';

export interface RecentTicks {
  queue: string;
  schedules: readonly string[];
  limit: number;
}

export async function recentTicks(db: Queryable, p: RecentTicks): Promise<Map<string, Tick[]>> {
  const { rows } = await db.query<TickRow>(
    `SELECT s.schedule, t.job_id, t.tick_at, t.outcome, t.run_id, t.message, t.recorded_at
     FROM unnest($1::text[]) AS s(schedule)
     CROSS JOIN LATERAL (SELECT id, job_id, tick_at, outcome, run_id, message, recorded_at FROM schedule_ticks
                         WHERE queue = $2 AND schedule = s.schedule ORDER BY id DESC LIMIT $3) t
     ORDER BY s.schedule, t.id DESC`,
    [p.schedules, p.queue, p.limit],
  );
  const result = new Map<string, Tick[]>(p.schedules.map((s) => [s, []]));
  for (const r of rows) {
    result.get(r.schedule)?.push(toTick(r));
  }
  return result;
}
