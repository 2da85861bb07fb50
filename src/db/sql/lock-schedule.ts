/**
 * Takes the schedule's lock until the end of the transaction: ticks of one schedule are decided one
 * at a time (a transaction-scoped advisory lock, keyed by the schedule's run source).
 */
import type { Queryable } from '../pool.js';

export async function lockSchedule(db: Queryable, source: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cams-enrich:${source}`]);
}
