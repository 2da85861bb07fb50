/** How many of a queue's runs a filter of the console's list matches (`runs-page.ts` reads one page of them). */
import type { Queryable } from '../pool.js';
import { RUNS_FILTER_SQL, runsFilterParams } from './runs-page.js';
import type { RunsFilter } from './runs-page.js';

export async function countRunsMatching(db: Queryable, p: RunsFilter): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n
     FROM runs
     ${RUNS_FILTER_SQL}`,
    runsFilterParams(p),
  );
  return Number(rows[0]?.n ?? 0);
}
