/** How many of a queue's runs a filter of the console's list matches (`runs-page.ts` reads one page of them). */
import type { Queryable } from '../pool.js';
import type { RunsFilter } from './runs-page.js';

export async function countRunsMatching(db: Queryable, p: RunsFilter): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n
     FROM runs
     WHERE queue = $1
       AND ($2::text IS NULL
            OR ($2 = 'importing' AND state = 'importing')
            OR ($2 = 'running' AND state = 'ready' AND pending > 0 AND finished_at IS NULL)
            OR ($2 = 'finished' AND state = 'ready' AND pending = 0)
            OR ($2 IN ('aborted', 'cancelled') AND state = $2))
       AND ($3::text IS NULL OR source = $3
            OR ($3 = 'csv' AND source LIKE 'csv:%') OR ($3 = 'database' AND source LIKE 'db:%')
            OR ($3 = 'schedule' AND source LIKE 'schedule:%'))
       AND ($4::text IS NULL OR space = $4)
       AND ($5::text IS NULL OR priority = $5)`,
    [p.queue, p.phase ?? null, p.source ?? null, p.space ?? null, p.priority ?? null],
  );
  return Number(rows[0]?.n ?? 0);
}
