/**
 * Which of the job ids BullMQ's PostgreSQL backend still has for the queue (in any state), read from
 * its `job` table (keyed by queue and id) in its own schema (`bullmq`).
 */
import type { Queryable } from '../pool.js';

export async function existingJobs(
  db: Queryable,
  p: { queue: string; ids: readonly string[] },
): Promise<Set<string>> {
  if (p.ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    'SELECT id FROM bullmq.job WHERE queue = $1 AND id = ANY($2::text[])',
    [p.queue, p.ids],
  );
  return new Set(rows.map((r) => r.id));
}
