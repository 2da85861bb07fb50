/** The profiles of a CustSpaceId fetched most recently, newest first (read where CRM queries read them). */
import type { Queryable } from '../pool.js';

export interface StoredProfileSummary {
  phoneNumber: string;
  vertical: string | null;
  email: string | null;
  address: string | null;
}

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
