/** The distinct error codes of a run's failed numbers. */
import type { Queryable } from '../pool.js';

export async function failureCodes(db: Queryable, runId: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT DISTINCT error_code AS code FROM run_items
     WHERE run_id = $1 AND state = 'failed' AND error_code IS NOT NULL`,
    [runId],
  );
  return rows.map((r) => r.code);
}
