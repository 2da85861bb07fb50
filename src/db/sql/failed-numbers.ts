/** The numbers of a run that finally failed, in input order (read from the failed_numbers view). */
import type { Queryable } from '../pool.js';

export interface FailedNumber {
  phoneNumber: string;
  errorCode: string | null;
  errorMessage: string | null;
}

export async function failedNumbers(db: Queryable, runId: number): Promise<FailedNumber[]> {
  const { rows } = await db.query<FailedNumber>(
    `SELECT phone_number AS "phoneNumber", error_code AS "errorCode", error_message AS "errorMessage"
     FROM failed_numbers WHERE run_id = $1 ORDER BY line`,
    [runId],
  );
  return rows;
}
