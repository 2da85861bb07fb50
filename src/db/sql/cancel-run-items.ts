/**
 * Cancels a run, in one statement: its pending rows become `cancelled` (a terminal state, counted in
 * the run's `cancelled` counter), except those of numbers whose call is in flight, which keep their
 * real outcome when it comes; the run ends in state `cancelled`. Each row is stamped with the time it
 * was written (not the transaction's start): a call whose ledger check came before that gets the row
 * back with its outcome when it settles (`settle-numbers.ts`, `since`). Returns the numbers whose job may
 * leave Redis: cancelled rows that were queued, of numbers no other run still waits for.
 */
import type { Queryable } from '../pool.js';

export interface NumberKey {
  custSpaceId: string;
  phoneNumber: string;
}

export interface CancelRunItems {
  runId: number;
  /** Numbers whose job a worker holds now: their rows stay pending. */
  inFlight: readonly NumberKey[];
}

export interface CancelledItems {
  /** Rows cancelled. */
  cancelled: number;
  /** Rows left pending because their number's call is in flight. */
  inFlight: number;
  /** Numbers whose job no run needs any more. */
  jobsToRemove: NumberKey[];
}

export async function cancelRunItems(db: Queryable, p: CancelRunItems): Promise<CancelledItems> {
  const { rows } = await db.query<{
    cust_space_id: string | null;
    phone_number: string | null;
    cancelled: string;
    left: string;
  }>(
    `WITH moved AS (
       UPDATE run_items i SET state = 'cancelled', updated_at = clock_timestamp()
       WHERE i.run_id = $1 AND i.state = 'pending'
         AND NOT EXISTS (
           SELECT 1 FROM unnest($2::text[], $3::text[]) AS f(cust_space_id, phone_number)
           WHERE f.cust_space_id = i.cust_space_id AND f.phone_number = i.phone_number)
       RETURNING i.cust_space_id, i.phone_number, i.queued_at
     ), counted AS (
       UPDATE runs SET state = 'cancelled', finished_at = now(),
         cancelled = runs.cancelled + (SELECT count(*) FROM moved),
         pending = runs.pending - (SELECT count(*) FROM moved)
       WHERE runs.id = $1
       RETURNING runs.cancelled, runs.pending
     ), removable AS (
       SELECT m.cust_space_id, m.phone_number FROM moved m
       WHERE m.queued_at IS NOT NULL
         AND NOT EXISTS (
           SELECT 1 FROM run_items o
           WHERE o.cust_space_id = m.cust_space_id AND o.phone_number = m.phone_number
             AND o.state = 'pending' AND o.run_id <> $1)
     )
     SELECT r.cust_space_id, r.phone_number, (SELECT count(*) FROM moved) AS cancelled,
            (SELECT pending FROM counted) AS left
     FROM (SELECT 1) one LEFT JOIN removable r ON true`,
    [p.runId, p.inFlight.map((k) => k.custSpaceId), p.inFlight.map((k) => k.phoneNumber)],
  );
  const jobsToRemove: NumberKey[] = [];
  for (const r of rows) {
    if (r.cust_space_id !== null && r.phone_number !== null)
      jobsToRemove.push({ custSpaceId: r.cust_space_id, phoneNumber: r.phone_number });
  }
  return {
    cancelled: Number(rows[0]?.cancelled ?? 0),
    inFlight: Number(rows[0]?.left ?? 0),
    jobsToRemove,
  };
}
