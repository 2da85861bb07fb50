/**
 * One page of a queue's runs for the console's list, newest first, filtered by phase (the word people
 * read: importing, running, finished, aborted, cancelled), source, customer space and priority.
 * `count-runs-matching.ts` counts the same filter.
 */
import type { Queryable } from '../pool.js';
import { RUN_COLUMNS_SQL, toRun } from './read-runs.js';
import type { Run, RunPriority, RunRow } from './read-runs.js';

export const RUN_PHASES = ['importing', 'running', 'finished', 'aborted', 'cancelled'] as const;
export type RunPhaseFilter = (typeof RUN_PHASES)[number];

export interface RunsFilter {
  queue: string;
  phase?: RunPhaseFilter | undefined;
  /**
   * `csv`, `database`, `refresh` or `schedule` for every run of that kind; anything else is one source
   * exactly (`schedule:nightly`, `csv:contacts.csv`, `db:crm.contacts`).
   */
  source?: string | undefined;
  space?: string | undefined;
  priority?: RunPriority | undefined;
}

/**
 * The filter's WHERE clause over `runs`, on parameters $1–$5 (`runsFilterParams`): the page below and
 * `count-runs-matching.ts` read the same runs.
 */
export const RUNS_FILTER_SQL = `WHERE queue = $1
       AND ($2::text IS NULL
            OR ($2 = 'importing' AND state = 'importing')
            OR ($2 = 'running' AND state = 'ready' AND pending > 0 AND finished_at IS NULL)
            OR ($2 = 'finished' AND state = 'ready' AND pending = 0)
            OR ($2 IN ('aborted', 'cancelled') AND state = $2))
       AND ($3::text IS NULL OR source = $3
            OR ($3 = 'csv' AND source LIKE 'csv:%') OR ($3 = 'database' AND source LIKE 'db:%')
            OR ($3 = 'schedule' AND source LIKE 'schedule:%'))
       AND ($4::text IS NULL OR space = $4)
       AND ($5::text IS NULL OR priority = $5)`;

/** The parameters $1–$5 of `RUNS_FILTER_SQL`. */
export function runsFilterParams(
  p: RunsFilter,
): [string, string | null, string | null, string | null, string | null] {
  return [p.queue, p.phase ?? null, p.source ?? null, p.space ?? null, p.priority ?? null];
}

export interface RunsPage extends RunsFilter {
  limit: number;
  offset: number;
}

export interface ListedRun extends Run {
  /** The customer space of every row (`--space`); null when the rows carry their own. */
  space: string | null;
}

interface Row extends RunRow {
  space: string | null;
}

export async function runsPage(db: Queryable, p: RunsPage): Promise<ListedRun[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${RUN_COLUMNS_SQL}, space
     FROM runs
     ${RUNS_FILTER_SQL}
     ORDER BY id DESC LIMIT $6 OFFSET $7`,
    [...runsFilterParams(p), p.limit, p.offset],
  );
  return rows.map((r) => ({ ...toRun(r), space: r.space }));
}
