/** Forgets a disabled schedule; false when there was none of that name. */
import type { Queryable } from '../pool.js';

export async function deleteDisabledSchedule(db: Queryable, queue: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM disabled_schedules WHERE queue = $1 AND name = $2', [
    queue,
    name,
  ]);
  return (rowCount ?? 0) > 0;
}
