/**
 * What runs produced, read where CRM queries read it: stored profiles (`business_profiles`) and the
 * numbers that finally failed (`failed_numbers`).
 */
import type { Queryable } from './pool.js';

export interface StoredProfileSummary {
  phoneNumber: string;
  vertical: string | null;
  email: string | null;
  address: string | null;
}

/** The profiles of a CustSpaceId fetched most recently, newest first. */
export async function latestProfiles(
  db: Queryable,
  custSpaceId: string,
  limit: number,
): Promise<StoredProfileSummary[]> {
  const { rows } = await db.query<StoredProfileSummary>(
    `SELECT phone_number AS "phoneNumber", vertical, email, address FROM business_profiles
     WHERE cust_space_id = $1 ORDER BY fetched_at DESC, phone_number LIMIT $2`,
    [custSpaceId, limit],
  );
  return rows;
}

export interface FailedNumber {
  phoneNumber: string;
  errorCode: string | null;
  errorMessage: string | null;
}

/** The numbers of a run that finally failed, in input order. */
export async function failedNumbers(db: Queryable, runId: number): Promise<FailedNumber[]> {
  const { rows } = await db.query<FailedNumber>(
    `SELECT phone_number AS "phoneNumber", error_code AS "errorCode", error_message AS "errorMessage"
     FROM failed_numbers WHERE run_id = $1 ORDER BY line`,
    [runId],
  );
  return rows;
}
