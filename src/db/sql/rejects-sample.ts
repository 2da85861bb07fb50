/** The first invalid rows of a run, in line order, with their reason (the caller masks the cells). */
import type { Queryable } from '../pool.js';

export interface RejectedLine {
  line: number;
  raw: string;
  reason: string;
}

export async function rejectsSample(db: Queryable, runId: number, limit: number): Promise<RejectedLine[]> {
  const { rows } = await db.query<{ line: string; raw: string; reason: string }>(
    'SELECT line, raw, reason FROM run_rejects WHERE run_id = $1 ORDER BY line LIMIT $2',
    [runId, limit],
  );
  return rows.map((r) => ({ line: Number(r.line), raw: r.raw, reason: r.reason }));
}
