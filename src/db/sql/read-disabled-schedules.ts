/** A schedules' queue's disabled schedules (or the one named `name`): name → its spec as JSON. */
import type { Queryable } from '../pool.js';

export async function readDisabledSchedules(
  db: Queryable,
  queue: string,
  name?: string,
): Promise<Record<string, string>> {
  const { rows } = await db.query<{ name: string; spec: string }>(
    'SELECT name, spec FROM disabled_schedules WHERE queue = $1 AND ($2::text IS NULL OR name = $2) ORDER BY name',
    [queue, name ?? null],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.spec]));
}
