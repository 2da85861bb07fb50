/**
 * A fetched profile, in one statement: upserted into business_profiles, the number's remembered refusal
 * forgotten, every pending row of the number (in any run) enriched, and their runs' counters moved.
 */
import type { BusinessProfile } from '../../cams/profile.js';
import type { Queryable } from '../pool.js';
import type { Settled } from './settle-number.js';
import { MOVE_RUN_COUNTERS } from './settle-number.js';

export interface RecordProfile {
  custSpaceId: string;
  phoneNumber: string;
  profile: BusinessProfile;
}

/** Returns the run rows settled. */
export async function recordProfile(db: Queryable, p: RecordProfile): Promise<number> {
  const { rows } = await db.query<Settled>(
    `WITH stored AS (
       INSERT INTO business_profiles (cust_space_id, phone_number, vertical, description, email, address,
         profile_picture_url, websites, about, request_id, fetched_at, raw)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), $11)
       ON CONFLICT (cust_space_id, phone_number) DO UPDATE SET
         vertical = EXCLUDED.vertical, description = EXCLUDED.description, email = EXCLUDED.email,
         address = EXCLUDED.address, profile_picture_url = EXCLUDED.profile_picture_url,
         websites = EXCLUDED.websites, about = EXCLUDED.about, request_id = EXCLUDED.request_id,
         fetched_at = EXCLUDED.fetched_at, raw = EXCLUDED.raw
     ), forgotten AS (
       DELETE FROM number_failures WHERE cust_space_id = $1 AND phone_number = $2
     ), moved AS (
       UPDATE run_items SET state = 'enriched', error_code = NULL, error_message = NULL, updated_at = now()
       WHERE cust_space_id = $1 AND phone_number = $2 AND state = 'pending'
       RETURNING run_id, state
     ), ${MOVE_RUN_COUNTERS}`,
    [
      p.custSpaceId,
      p.phoneNumber,
      p.profile.vertical,
      p.profile.description,
      p.profile.email,
      p.profile.address,
      p.profile.profilePictureUrl,
      p.profile.websites,
      p.profile.about,
      p.profile.requestId,
      JSON.stringify(p.profile.raw),
    ],
  );
  return rows[0]?.settled ?? 0;
}
