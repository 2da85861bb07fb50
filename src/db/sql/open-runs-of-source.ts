/** The queue's runs started by `source` (such as `schedule:nightly`) that are importing or running, oldest first. */
import type { Queryable } from '../pool.js';

export interface OpenRunsOfSource {
  queue: string;
  source: string;
}

export async function openRunsOfSource(db: Queryable, p: OpenRunsOfSource): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM runs WHERE queue = $1 AND source = $2
       AND (state = 'importing' OR (state = 'ready' AND pending > 0))
     ORDER BY id`,
    [p.queue, p.source],
  );
  return rows.map((r) => Number(r.id));
}
