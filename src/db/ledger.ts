/**
 * The per-number side of the ledger, used by the feeder and the workers. A job is about a number
 * (cust_space_id, phone_number), not about a run: when the number is done, every pending row of it,
 * in whichever run, is done, and each run's counters move in the same transaction.
 */
import type { BusinessProfile } from '../cams/profile.js';
import type { Pool, PoolClient, Queryable } from './pool.js';
import { withTransaction } from './pool.js';

export interface NumberKey {
  custSpaceId: string;
  phoneNumber: string;
}

export type PendingCheck =
  /** No run waits for this number any more (done meanwhile): spend no call. */
  | { kind: 'nothing-pending' }
  /** A profile fetched since the runs asked for it (or within their max age) is stored: spend no call. */
  | { kind: 'fresh' }
  | { kind: 'call' };

/** Moves the pending rows of one number to a final state and the counters of their runs with them. */
async function settle(
  client: PoolClient,
  key: NumberKey,
  setSql: string,
  params: unknown[],
): Promise<number> {
  const { rows } = await client.query<{ run_id: string; state: string; n: string }>(
    `WITH moved AS (
       UPDATE run_items i SET ${setSql}, updated_at = now()
       WHERE i.cust_space_id = $1 AND i.phone_number = $2 AND i.state = 'pending'
       RETURNING i.run_id, i.state
     )
     SELECT run_id, state, count(*) AS n FROM moved GROUP BY run_id, state`,
    [key.custSpaceId, key.phoneNumber, ...params],
  );
  const perRun = new Map<number, { enriched: number; skipped: number; failed: number }>();
  for (const r of rows) {
    const counts = perRun.get(Number(r.run_id)) ?? { enriched: 0, skipped: 0, failed: 0 };
    counts[r.state as 'enriched' | 'skipped' | 'failed'] += Number(r.n);
    perRun.set(Number(r.run_id), counts);
  }
  // Runs are locked in id order, so two workers settling numbers of the same runs never deadlock.
  let moved = 0;
  for (const runId of [...perRun.keys()].sort((a, b) => a - b)) {
    const c = perRun.get(runId)!;
    const n = c.enriched + c.skipped + c.failed;
    moved += n;
    await client.query(
      `UPDATE runs SET
         pending = pending - $2, enriched = enriched + $3, skipped = skipped + $4, failed = failed + $5,
         finished_at = CASE WHEN pending - $2 = 0 AND state = 'ready' THEN now() ELSE finished_at END
       WHERE id = $1`,
      [runId, n, c.enriched, c.skipped, c.failed],
    );
  }
  return moved;
}

/**
 * Decides whether a job still needs a CAMS call: nothing pending, or a stored profile that is fresh
 * for every run waiting (fetched after the run was created, or within its max age), means no call.
 */
export async function checkPending(db: Queryable, key: NumberKey): Promise<PendingCheck> {
  const { rows } = await db.query<{ pending: string; fresh: boolean | null }>(
    `SELECT count(*) AS pending,
            bool_and(bp.fetched_at >= r.created_at OR bp.fetched_at > now() - r.max_age) AS fresh
     FROM run_items i
     JOIN runs r ON r.id = i.run_id
     LEFT JOIN business_profiles bp ON bp.cust_space_id = i.cust_space_id AND bp.phone_number = i.phone_number
     WHERE i.cust_space_id = $1 AND i.phone_number = $2 AND i.state = 'pending'`,
    [key.custSpaceId, key.phoneNumber],
  );
  const row = rows[0];
  if (!row || Number(row.pending) === 0) return { kind: 'nothing-pending' };
  return row.fresh ? { kind: 'fresh' } : { kind: 'call' };
}

/**
 * Stores a fetched profile and marks every pending row of the number enriched, in one transaction.
 * Returns how many run rows it settled.
 */
export async function recordProfile(pool: Pool, key: NumberKey, profile: BusinessProfile): Promise<number> {
  return withTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO business_profiles (cust_space_id, phone_number, vertical, description, email, address,
         profile_picture_url, websites, about, request_id, fetched_at, raw)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), $11)
       ON CONFLICT (cust_space_id, phone_number) DO UPDATE SET
         vertical = EXCLUDED.vertical, description = EXCLUDED.description, email = EXCLUDED.email,
         address = EXCLUDED.address, profile_picture_url = EXCLUDED.profile_picture_url,
         websites = EXCLUDED.websites, about = EXCLUDED.about, request_id = EXCLUDED.request_id,
         fetched_at = EXCLUDED.fetched_at, raw = EXCLUDED.raw`,
      [
        key.custSpaceId,
        key.phoneNumber,
        profile.vertical,
        profile.description,
        profile.email,
        profile.address,
        profile.profilePictureUrl,
        profile.websites,
        profile.about,
        profile.requestId,
        JSON.stringify(profile.raw),
      ],
    );
    await client.query('DELETE FROM number_failures WHERE cust_space_id = $1 AND phone_number = $2', [
      key.custSpaceId,
      key.phoneNumber,
    ]);
    return settle(client, key, `state = 'enriched', error_code = NULL, error_message = NULL`, []);
  });
}

/**
 * Settles the pending rows of a number whose stored profile is fresh enough without a call: rows of
 * runs created before the fetch count as skipped, later ones as enriched (they were served by it).
 */
export async function settleFromStore(pool: Pool, key: NumberKey): Promise<number> {
  return withTransaction(pool, (client) =>
    settle(
      client,
      key,
      `state = CASE WHEN (SELECT bp.fetched_at >= r.created_at FROM business_profiles bp, runs r
                          WHERE bp.cust_space_id = i.cust_space_id AND bp.phone_number = i.phone_number
                            AND r.id = i.run_id)
                    THEN 'enriched' ELSE 'skipped' END`,
      [],
    ),
  );
}

/**
 * Records a final failure for every pending row of the number, with the error code and message.
 * With `final`, the answer concerns the number itself (CAMS refused it): it is remembered in
 * `number_failures` so later runs within their max age fail it without a call.
 */
export async function recordFailure(
  pool: Pool,
  key: NumberKey,
  code: string,
  message: string,
  options: { final?: boolean } = {},
): Promise<number> {
  return withTransaction(pool, async (client) => {
    if (options.final) {
      await client.query(
        `INSERT INTO number_failures (cust_space_id, phone_number, error_code, error_message)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (cust_space_id, phone_number) DO UPDATE SET
           error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, failed_at = now()`,
        [key.custSpaceId, key.phoneNumber, code, message],
      );
    }
    return settle(client, key, `state = 'failed', error_code = $3, error_message = $4`, [code, message]);
  });
}

export interface FeedItem extends NumberKey {
  runId: number;
}

/**
 * Claims pending, not yet queued numbers of the queue's ready runs (oldest run first, file order), as
 * many as `room()` allows, hands them to `enqueue`, and marks them queued only if `enqueue` resolved;
 * all in one transaction under an advisory lock. `room` is asked after the lock is taken, so two
 * feeders never both fill the same space, and a crash between the two steps leaves the rows to feed
 * again (job ids make the second add a no-op).
 * Returns the number of rows fed, or -1 when another feeder holds the lock.
 */
export async function feedPending(
  pool: Pool,
  queue: string,
  room: () => Promise<number>,
  enqueue: (items: FeedItem[]) => Promise<void>,
): Promise<number> {
  return withTransaction(pool, async (client) => {
    const { rows: lock } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked',
      [`cams-enrich:feed:${queue}`],
    );
    if (!lock[0]?.locked) return -1;
    const limit = await room();
    if (limit <= 0) return 0;
    const { rows } = await client.query<{ run_id: string; cust_space_id: string; phone_number: string }>(
      `SELECT i.run_id, i.cust_space_id, i.phone_number
       FROM run_items i JOIN runs r ON r.id = i.run_id
       WHERE r.queue = $1 AND r.state = 'ready' AND i.state = 'pending' AND i.queued_at IS NULL
       ORDER BY i.run_id, i.line
       LIMIT $2
       FOR UPDATE OF i SKIP LOCKED`,
      [queue, limit],
    );
    if (rows.length === 0) return 0;
    const items = rows.map((r) => ({
      runId: Number(r.run_id),
      custSpaceId: r.cust_space_id,
      phoneNumber: r.phone_number,
    }));
    await enqueue(items);
    await client.query(
      `UPDATE run_items i SET queued_at = now()
       FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(run_id, cust_space_id, phone_number)
       WHERE i.run_id = t.run_id AND i.cust_space_id = t.cust_space_id AND i.phone_number = t.phone_number`,
      [items.map((i) => i.runId), items.map((i) => i.custSpaceId), items.map((i) => i.phoneNumber)],
    );
    return items.length;
  });
}

export interface QueueAlert {
  code: string;
  message: string;
  raisedAt: Date;
}

/** Records why the queue was paused (an account-wide CAMS failure). */
export async function raiseAlert(db: Queryable, queue: string, code: string, message: string): Promise<void> {
  await db.query(
    `INSERT INTO queue_alerts (queue, code, message) VALUES ($1, $2, $3)
     ON CONFLICT (queue) DO UPDATE SET code = EXCLUDED.code, message = EXCLUDED.message, raised_at = now()`,
    [queue, code, message],
  );
}

export async function clearAlert(db: Queryable, queue: string): Promise<void> {
  await db.query('DELETE FROM queue_alerts WHERE queue = $1', [queue]);
}

/** Records an alert unless one is already raised for the queue (an account failure stays the one shown). */
export async function raiseAlertIfNone(
  db: Queryable,
  queue: string,
  code: string,
  message: string,
): Promise<void> {
  await db.query(
    `INSERT INTO queue_alerts (queue, code, message) VALUES ($1, $2, $3) ON CONFLICT (queue) DO NOTHING`,
    [queue, code, message],
  );
}

/** Clears the queue's alert only when its code is one of `codes`. */
export async function clearAlertWithCode(
  db: Queryable,
  queue: string,
  codes: readonly string[],
): Promise<void> {
  await db.query('DELETE FROM queue_alerts WHERE queue = $1 AND code = ANY($2::text[])', [queue, [...codes]]);
}

export async function getAlert(db: Queryable, queue: string): Promise<QueueAlert | undefined> {
  const { rows } = await db.query<{ code: string; message: string; raised_at: Date }>(
    'SELECT code, message, raised_at FROM queue_alerts WHERE queue = $1',
    [queue],
  );
  const r = rows[0];
  return r ? { code: r.code, message: r.message, raisedAt: r.raised_at } : undefined;
}

/** The ledger operations a worker needs, bound to a pool (what `enrich` receives). */
export interface Ledger {
  checkPending(key: NumberKey): Promise<PendingCheck>;
  recordProfile(key: NumberKey, profile: BusinessProfile): Promise<number>;
  settleFromStore(key: NumberKey): Promise<number>;
  recordFailure(
    key: NumberKey,
    code: string,
    message: string,
    options?: { final?: boolean },
  ): Promise<number>;
}

export function createLedger(pool: Pool): Ledger {
  return {
    checkPending: (key) => checkPending(pool, key),
    recordProfile: (key, profile) => recordProfile(pool, key, profile),
    settleFromStore: (key) => settleFromStore(pool, key),
    recordFailure: (key, code, message, options) => recordFailure(pool, key, code, message, options),
  };
}
