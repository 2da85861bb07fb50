/** Finished (not importing, nothing pending) runs older than the cut-off, not pruned yet; oldest first. */
import type { Queryable } from '../pool.js';

export async function runsToPrune(db: Queryable, olderThanMs: number): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM runs
     WHERE pruned_at IS NULL AND finished_at IS NOT NULL AND state <> 'importing' AND pending = 0
       AND finished_at < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY id`,
    [olderThanMs],
  );
  return rows.map((r) => Number(r.id));
}
