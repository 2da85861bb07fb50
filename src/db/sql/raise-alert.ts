/**
 * Records why the queue was paused (an account-wide CAMS failure), kept for `status` until `resume`
 * clears it. With `replace` false an alert already raised stays the one shown.
 */
import type { Queryable } from '../pool.js';

export interface RaiseAlert {
  queue: string;
  code: string;
  message: string;
  /** Whether a newer alert replaces one already raised for the queue. */
  replace: boolean;
}

export async function raiseAlert(db: Queryable, p: RaiseAlert): Promise<void> {
  await db.query(
    `INSERT INTO queue_alerts (queue, code, message) VALUES ($1, $2, $3)
     ON CONFLICT (queue) DO UPDATE SET code = EXCLUDED.code, message = EXCLUDED.message, raised_at = now()
     WHERE $4::boolean`,
    [p.queue, p.code, p.message, p.replace],
  );
}
