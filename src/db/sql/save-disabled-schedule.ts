/** Keeps a disabled schedule's spec (JSON), replacing one of the same name. */
import type { Queryable } from '../pool.js';

export async function saveDisabledSchedule(
  db: Queryable,
  p: { queue: string; name: string; spec: string },
): Promise<void> {
  await db.query(
    `INSERT INTO disabled_schedules (queue, name, spec) VALUES ($1, $2, $3)
     ON CONFLICT (queue, name) DO UPDATE SET spec = excluded.spec`,
    [p.queue, p.name, p.spec],
  );
}
