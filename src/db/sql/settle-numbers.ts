/**
 * Numbers settled, in one statement: every pending row of each number (in any run) leaves `pending`,
 * and the runs' counters move with them. How a number settles is its `kind`:
 * - `profile`: CAMS answered; the profile is upserted into business_profiles, the number's remembered
 *   refusal forgotten, and its rows enriched;
 * - `failure`: its rows failed with the code and message; with `remember`, the answer concerns the
 *   number itself (CAMS refused it) and is kept in number_failures, so later runs within their max age
 *   fail it without a call;
 * - `store`: a stored profile is fresh enough; rows of runs created before the fetch count as skipped,
 *   later ones as enriched (the fetch served them).
 * A call's outcome (`profile`, `failure`) given `since` (when the ledger was checked before the call)
 * also settles the number's rows a cancel counted `cancelled` after that check: the call was made for
 * them, so they get its real outcome and move from the run's `cancelled` counter to it, in this statement,
 * whichever of the cancel and the call finished first. Rows cancelled before the check stay cancelled.
 * The runs are locked in id order before their counters change, so statements settling numbers of the
 * same runs never deadlock. Each number appears at most once per call.
 *
 * The usage figures move in the same statement (`usage_counts`, today in UTC): the rows enriched, failed
 * by classification and settled from the store, and the requests the settlement accounts for (`calls`,
 * counted for the oldest run it settled, or run 0 when no run waited any more). They are written last,
 * after the runs are locked (as an import's merge does), in key order, so two statements never wait
 * for each other's rows in turn.
 */
import type { BusinessProfile } from '../../cams/profile.js';
import type { Queryable } from '../pool.js';

interface Key {
  custSpaceId: string;
  phoneNumber: string;
}

/** Why a number failed, as the usage figures count it (`failed_<classification>`). */
export type FailureClass = 'permanent' | 'transient' | 'throttled' | 'other';

/** The requests to CAMS a settlement accounts for. Default: one for a profile, none otherwise. */
interface Calls {
  /** Requests sent for the number and not counted yet (the one that got this answer). */
  calls?: number;
  /** Of those, answered with a throttle. */
  throttled?: number;
  /**
   * When the ledger was checked before the call (`PendingCheck.checkedAt`): rows cancelled after it
   * get this outcome too. Default: only pending rows settle.
   */
  since?: string;
}

export type SettleNumber =
  | (Key & Calls & { kind: 'profile'; profile: BusinessProfile })
  | (Key &
      Calls & {
        kind: 'failure';
        code: string;
        message: string;
        remember: boolean;
        /** Default `other`. */
        classification?: FailureClass;
      })
  | (Key & Calls & { kind: 'store' });

function row(s: SettleNumber): Record<string, unknown> {
  const key = {
    kind: s.kind,
    cust_space_id: s.custSpaceId,
    phone_number: s.phoneNumber,
    calls: s.calls ?? (s.kind === 'profile' ? 1 : 0),
    throttled: s.throttled ?? 0,
    since: s.kind === 'store' ? null : (s.since ?? null),
  };
  switch (s.kind) {
    case 'profile':
      return {
        ...key,
        vertical: s.profile.vertical,
        description: s.profile.description,
        email: s.profile.email,
        address: s.profile.address,
        profile_picture_url: s.profile.profilePictureUrl,
        websites: s.profile.websites,
        about: s.profile.about,
        request_id: s.profile.requestId,
        raw: s.profile.raw,
      };
    case 'failure':
      return {
        ...key,
        error_code: s.code,
        error_message: s.message,
        remember: s.remember,
        failure_class: s.classification ?? 'other',
      };
    case 'store':
      return key;
  }
}

/** Returns the run rows settled per number, in the order of `items`. */
export async function settleNumbers(db: Queryable, items: readonly SettleNumber[]): Promise<number[]> {
  const { rows } = await db.query<{ n: number; settled: number }>(
    `WITH input AS (
       SELECT t.*, k.n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS k(item, n),
         jsonb_to_record(k.item) AS t(kind text, cust_space_id text, phone_number text, vertical text,
           description text, email text, address text, profile_picture_url text, websites jsonb, about text,
           request_id text, raw jsonb, error_code text, error_message text, remember boolean,
           failure_class text, calls int, throttled int, since timestamptz)
     ), stored AS (
       INSERT INTO business_profiles (cust_space_id, phone_number, vertical, description, email, address,
         profile_picture_url, websites, about, request_id, fetched_at, raw)
       SELECT cust_space_id, phone_number, vertical, description, email, address, profile_picture_url,
              ARRAY(SELECT jsonb_array_elements_text(coalesce(websites, '[]'))), about, request_id, now(), raw
       FROM input WHERE kind = 'profile'
       ON CONFLICT (cust_space_id, phone_number) DO UPDATE SET
         vertical = EXCLUDED.vertical, description = EXCLUDED.description, email = EXCLUDED.email,
         address = EXCLUDED.address, profile_picture_url = EXCLUDED.profile_picture_url,
         websites = EXCLUDED.websites, about = EXCLUDED.about, request_id = EXCLUDED.request_id,
         fetched_at = EXCLUDED.fetched_at, raw = EXCLUDED.raw
     ), remembered AS (
       INSERT INTO number_failures (cust_space_id, phone_number, error_code, error_message)
       SELECT cust_space_id, phone_number, error_code, error_message FROM input
       WHERE kind = 'failure' AND remember
       ON CONFLICT (cust_space_id, phone_number) DO UPDATE SET
         error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, failed_at = now()
     ), forgotten AS (
       DELETE FROM number_failures nf USING input
       WHERE input.kind = 'profile'
         AND nf.cust_space_id = input.cust_space_id AND nf.phone_number = input.phone_number
     ), moved AS (
       UPDATE run_items i SET
         state = CASE input.kind
           WHEN 'profile' THEN 'enriched'
           WHEN 'failure' THEN 'failed'
           ELSE CASE WHEN (SELECT bp.fetched_at >= r.created_at FROM business_profiles bp, runs r
                           WHERE r.id = i.run_id
                             AND bp.cust_space_id = i.cust_space_id AND bp.phone_number = i.phone_number)
                     THEN 'enriched' ELSE 'skipped' END
         END,
         error_code = CASE WHEN input.kind = 'failure' THEN input.error_code END,
         error_message = CASE WHEN input.kind = 'failure' THEN input.error_message END,
         updated_at = now()
       FROM input
       WHERE i.cust_space_id = input.cust_space_id AND i.phone_number = input.phone_number
         AND i.state = 'pending'
       RETURNING i.run_id, i.state, input.n
     ), revived AS (
       -- Rows a cancel wrote after the call's check (the snapshot saw them cancelled, so no row is in
       -- both updates): the call was made for them.
       UPDATE run_items i SET
         state = CASE input.kind WHEN 'profile' THEN 'enriched' ELSE 'failed' END,
         error_code = CASE WHEN input.kind = 'failure' THEN input.error_code END,
         error_message = CASE WHEN input.kind = 'failure' THEN input.error_message END,
         updated_at = now()
       FROM input
       WHERE input.since IS NOT NULL
         AND i.cust_space_id = input.cust_space_id AND i.phone_number = input.phone_number
         AND i.state = 'cancelled' AND i.updated_at >= input.since
       RETURNING i.run_id, i.state, input.n
     ), settled AS (
       SELECT run_id, state, n, false AS was_cancelled FROM moved
       UNION ALL
       SELECT run_id, state, n, true FROM revived
     ), per_run AS (
       SELECT run_id, count(*) FILTER (WHERE NOT was_cancelled) AS n,
              count(*) FILTER (WHERE was_cancelled) AS uncancelled,
              count(*) FILTER (WHERE state = 'enriched') AS enriched,
              count(*) FILTER (WHERE state = 'skipped') AS skipped,
              count(*) FILTER (WHERE state = 'failed') AS failed
       FROM settled GROUP BY run_id
     ), locked AS MATERIALIZED (
       SELECT r.id FROM runs r WHERE r.id IN (SELECT run_id FROM per_run) ORDER BY r.id FOR NO KEY UPDATE
     ), counted AS (
       UPDATE runs SET
         pending = runs.pending - p.n, cancelled = runs.cancelled - p.uncancelled,
         enriched = runs.enriched + p.enriched,
         skipped = runs.skipped + p.skipped, failed = runs.failed + p.failed,
         finished_at = CASE WHEN p.n > 0 AND runs.pending - p.n = 0 AND runs.state = 'ready' THEN now()
                            ELSE runs.finished_at END
       FROM per_run p
       WHERE runs.id = p.run_id AND runs.id IN (SELECT id FROM locked)
       RETURNING p.n
     ), per_number AS (
       SELECT n, count(*)::int AS settled, min(run_id) AS first_run FROM settled GROUP BY n
     ), usage AS (
       INSERT INTO usage_counts AS u (day, cust_space_id, run_id, metric, n)
       SELECT (now() AT TIME ZONE 'UTC')::date, cust_space_id, run_id, metric, sum(k)
       FROM (
         SELECT input.cust_space_id, m.run_id,
                CASE WHEN m.state = 'failed' THEN 'failed_' || coalesce(input.failure_class, 'other')
                     WHEN input.kind = 'store' THEN 'saved_fresh'
                     ELSE m.state END AS metric,
                1 AS k
         FROM settled m JOIN input USING (n)
         UNION ALL
         SELECT input.cust_space_id, coalesce(p.first_run, 0), c.metric, c.k
         FROM input LEFT JOIN per_number p USING (n)
         CROSS JOIN LATERAL (VALUES ('calls', input.calls), ('throttled', input.throttled)) c(metric, k)
         WHERE c.k > 0
       ) x
       -- Read only after every run is locked and counted: the runs' locks come first, as in an import.
       WHERE (SELECT count(*) FROM counted) >= 0
       GROUP BY 1, 2, 3, 4
       ORDER BY 1, 2, 3, 4
       ON CONFLICT (day, cust_space_id, run_id, metric) DO UPDATE SET n = u.n + EXCLUDED.n
     )
     SELECT input.n::int AS n, coalesce(per_number.settled, 0) AS settled
     FROM input LEFT JOIN per_number USING (n)`,
    [JSON.stringify(items.map(row))],
  );
  const settled = items.map(() => 0);
  for (const r of rows) settled[r.n - 1] = r.settled;
  return settled;
}
