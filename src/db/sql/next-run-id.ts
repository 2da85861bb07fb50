/** A new run id from the runs' identity sequence, for a run created later with it (`create-run.ts`). */
import type { Queryable } from '../pool.js';

export async function nextRunId(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT nextval(pg_get_serial_sequence('runs', 'id')) AS id`,
  );
  return Number(rows[0]!.id);
}
