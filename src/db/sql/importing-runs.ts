/** Runs still `importing` that were created more than `minAgeSeconds` ago, oldest first. */
import type { Queryable } from '../pool.js';

export async function importingRuns(db: Queryable, minAgeSeconds: number): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM runs WHERE state = 'importing' AND created_at < now() - make_interval(secs => $1)
     ORDER BY id`,
    [minAgeSeconds],
  );
  return rows.map((r) => Number(r.id));
}
