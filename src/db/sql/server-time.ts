/** The PostgreSQL server's clock, in ms since the epoch (`clock_timestamp()`, not the transaction's start). */
import type { Queryable } from '../pool.js';

export async function serverTimeMs(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ ms: number }>(
    'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms',
  );
  return Math.floor(rows[0]!.ms);
}
