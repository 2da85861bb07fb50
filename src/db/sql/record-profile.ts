/**
 * A fetched profile, in one statement: upserted into business_profiles, the number's remembered refusal
 * forgotten, every pending row of the number (in any run) enriched, and their runs' counters moved.
 */
import type { BusinessProfile } from '../../cams/profile.js';
import type { Queryable } from '../pool.js';
import { MOVE_RUN_COUNTERS } from './settle-number.js';

export interface RecordProfile {
  custSpaceId: string;
  phoneNumber: string;
  profile: BusinessProfile;
}

/** Returns the run rows settled. */
export async function recordProfile(db: Queryable, p: RecordProfile): Promise<number> {
  const [settled] = await recordProfiles(db, [p]);
  return settled ?? 0;
}

/**
 * `recordProfile` for several numbers in one statement (each number at most once); returns the run rows
 * settled per number, in the order of `items`.
 */
export async function recordProfiles(db: Queryable, items: readonly RecordProfile[]): Promise<number[]> {
  const input = items.map((p) => ({
    cust_space_id: p.custSpaceId,
    phone_number: p.phoneNumber,
    vertical: p.profile.vertical,
    description: p.profile.description,
    email: p.profile.email,
    address: p.profile.address,
    profile_picture_url: p.profile.profilePictureUrl,
    websites: p.profile.websites,
    about: p.profile.about,
    request_id: p.profile.requestId,
    raw: p.profile.raw,
  }));
  const { rows } = await db.query<{ n: number; settled: number }>(
    `WITH input AS (
       SELECT t.*, k.n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS k(item, n),
         jsonb_to_record(k.item) AS t(cust_space_id text, phone_number text, vertical text, description text,
           email text, address text, profile_picture_url text, websites jsonb, about text, request_id text,
           raw jsonb)
     ), stored AS (
       INSERT INTO business_profiles (cust_space_id, phone_number, vertical, description, email, address,
         profile_picture_url, websites, about, request_id, fetched_at, raw)
       SELECT cust_space_id, phone_number, vertical, description, email, address, profile_picture_url,
              ARRAY(SELECT jsonb_array_elements_text(coalesce(websites, '[]'))), about, request_id, now(), raw
       FROM input
       ON CONFLICT (cust_space_id, phone_number) DO UPDATE SET
         vertical = EXCLUDED.vertical, description = EXCLUDED.description, email = EXCLUDED.email,
         address = EXCLUDED.address, profile_picture_url = EXCLUDED.profile_picture_url,
         websites = EXCLUDED.websites, about = EXCLUDED.about, request_id = EXCLUDED.request_id,
         fetched_at = EXCLUDED.fetched_at, raw = EXCLUDED.raw
     ), forgotten AS (
       DELETE FROM number_failures nf USING input
       WHERE nf.cust_space_id = input.cust_space_id AND nf.phone_number = input.phone_number
     ), moved AS (
       UPDATE run_items i SET state = 'enriched', error_code = NULL, error_message = NULL, updated_at = now()
       FROM input
       WHERE i.cust_space_id = input.cust_space_id AND i.phone_number = input.phone_number
         AND i.state = 'pending'
       RETURNING i.run_id, i.state, input.n
     ), ${MOVE_RUN_COUNTERS},
     per_number AS (SELECT n, count(*)::int AS settled FROM moved GROUP BY n)
     SELECT input.n::int AS n, coalesce(per_number.settled, 0) AS settled
     FROM input LEFT JOIN per_number USING (n)`,
    [JSON.stringify(input)],
  );
  const settled = items.map(() => 0);
  for (const row of rows) settled[row.n - 1] = row.settled;
  return settled;
}
