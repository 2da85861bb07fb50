/** The queue's alert: why it was paused, if it was. */
import type { Queryable } from '../pool.js';

export interface QueueAlert {
  code: string;
  message: string;
  raisedAt: Date;
}

export async function getAlert(db: Queryable, queue: string): Promise<QueueAlert | undefined> {
  const { rows } = await db.query<{ code: string; message: string; raised_at: Date }>(
    'SELECT code, message, raised_at FROM queue_alerts WHERE queue = $1',
    [queue],
  );
  const r = rows[0];
  return r ? { code: r.code, message: r.message, raisedAt: r.raised_at } : undefined;
}
