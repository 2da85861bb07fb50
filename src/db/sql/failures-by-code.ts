/**
 * Failed numbers of runs grouped by error code, for people looking at a run: counts and a few
 * example numbers, which the caller masks before showing them.
 */
import type { Queryable } from '../pool.js';

export interface FailureGroup {
  runId: number;
  code: string;
  count: number;
  /** Up to `examples` numbers of the group, in file order, unmasked. */
  examples: string[];
}

export async function failuresByCode(db: Queryable, runIds: number[], examples = 3): Promise<FailureGroup[]> {
  if (runIds.length === 0) return [];
  const { rows } = await db.query<{ run_id: string; code: string; n: string; examples: string[] }>(
    `SELECT run_id, coalesce(error_code, 'UNKNOWN') AS code, count(*) AS n,
            (array_agg(phone_number ORDER BY line))[1:$2] AS examples
     FROM failed_numbers WHERE run_id = ANY($1::bigint[])
     GROUP BY run_id, error_code ORDER BY run_id DESC, count(*) DESC`,
    [runIds, examples],
  );
  return rows.map((r) => ({
    runId: Number(r.run_id),
    code: r.code,
    count: Number(r.n),
    examples: r.examples,
  }));
}
