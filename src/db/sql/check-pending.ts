/**
 * Whether jobs still need a CAMS call, for several numbers in one statement: nothing pending (done
 * meanwhile), or a stored profile fresh for every run waiting (fetched after the run was created, or
 * within its max age), means no call.
 */
import type { Queryable } from '../pool.js';

export interface CheckPending {
  custSpaceId: string;
  phoneNumber: string;
}

export type PendingCheck =
  /** No run waits for this number any more (done meanwhile): spend no call. */
  | { kind: 'nothing-pending' }
  /** A profile fetched since the runs asked for it (or within their max age) is stored: spend no call. */
  | { kind: 'fresh' }
  /**
   * A call is needed; `runId` is the oldest run waiting, which the usage figures count the call for.
   * `checkedAt` is when the check read the ledger (the database's clock, as text): the call's outcome
   * is settled with it, so rows a cancel wrote after it still get the outcome (`SettleNumber.since`).
   */
  | { kind: 'call'; runId: number; checkedAt: string };

/** The answers are in the order of `keys`. */
export async function checkPending(db: Queryable, keys: readonly CheckPending[]): Promise<PendingCheck[]> {
  const { rows } = await db.query<{
    n: number;
    pending: number;
    fresh: boolean | null;
    first_run: string;
    checked_at: string;
  }>(
    `SELECT k.n::int AS n, count(i.run_id)::int AS pending, min(i.run_id) AS first_run, now()::text AS checked_at,
            bool_and(bp.fetched_at >= r.created_at OR bp.fetched_at > now() - r.max_age) AS fresh
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(cust_space_id, phone_number, n)
     LEFT JOIN run_items i
       ON i.cust_space_id = k.cust_space_id AND i.phone_number = k.phone_number AND i.state = 'pending'
     LEFT JOIN runs r ON r.id = i.run_id
     LEFT JOIN business_profiles bp ON bp.cust_space_id = k.cust_space_id AND bp.phone_number = k.phone_number
     GROUP BY k.n`,
    [keys.map((k) => k.custSpaceId), keys.map((k) => k.phoneNumber)],
  );
  const answers: PendingCheck[] = keys.map(() => ({ kind: 'nothing-pending' }));
  for (const row of rows) {
    if (row.pending > 0)
      answers[row.n - 1] = row.fresh
        ? { kind: 'fresh' }
        : { kind: 'call', runId: Number(row.first_run), checkedAt: row.checked_at };
  }
  return answers;
}
