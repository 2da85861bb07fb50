/** Records one action of the queue's admins (`audit_log`); returns the entry's id. */
import type { Queryable } from '../pool.js';

export const AUDIT_ACTIONS = [
  'cancel',
  'priority',
  'pause',
  'resume',
  'retry-failed',
  'schedule-enable',
  'schedule-disable',
  'schedule-run',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Where an action came from: the command line or the dashboard. */
export type AuditVia = 'cli' | 'dashboard';

export interface InsertAudit {
  queue: string;
  action: AuditAction;
  runId: number | null;
  schedule: string | null;
  /** The action's arguments and result: never a secret, numbers masked. */
  details: Record<string, unknown>;
  /** The dashboard client's address, or the CLI's user@host. */
  actor: string;
  via: AuditVia;
}

export async function insertAudit(db: Queryable, p: InsertAudit): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO audit_log (queue, action, run_id, schedule, details, actor, via)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING id`,
    [p.queue, p.action, p.runId, p.schedule, JSON.stringify(p.details), p.actor, p.via],
  );
  return Number(rows[0]!.id);
}
