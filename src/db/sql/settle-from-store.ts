/**
 * A number whose stored profile is fresh enough, settled without a call in one statement: rows of runs
 * created before the fetch count as skipped, later ones as enriched (the fetch served them).
 */
import type { Queryable } from '../pool.js';
import type { Settled } from './settle-number.js';
import { MOVE_RUN_COUNTERS, SETTLED } from './settle-number.js';

export interface SettleFromStore {
  custSpaceId: string;
  phoneNumber: string;
}

/** Returns the run rows settled. */
export async function settleFromStore(db: Queryable, p: SettleFromStore): Promise<number> {
  const { rows } = await db.query<Settled>(
    `WITH moved AS (
       UPDATE run_items i
       SET state = CASE WHEN (SELECT bp.fetched_at >= r.created_at FROM business_profiles bp
                              WHERE bp.cust_space_id = i.cust_space_id AND bp.phone_number = i.phone_number)
                        THEN 'enriched' ELSE 'skipped' END,
           updated_at = now()
       FROM runs r
       WHERE i.cust_space_id = $1 AND i.phone_number = $2 AND i.state = 'pending' AND r.id = i.run_id
       RETURNING i.run_id, i.state
     ), ${MOVE_RUN_COUNTERS}
     ${SETTLED}`,
    [p.custSpaceId, p.phoneNumber],
  );
  return rows[0]?.settled ?? 0;
}
