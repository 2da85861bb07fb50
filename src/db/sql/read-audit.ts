/** The newest entries of a queue's audit log: all of them, or those of one run or one schedule. */
import type { Queryable } from '../pool.js';
import type { AuditAction, AuditVia, InsertAudit } from './insert-audit.js';

/** An entry as recorded (`InsertAudit`, less the queue it was read from), with its id and time. */
export interface AuditEntry extends Omit<InsertAudit, 'queue'> {
  id: number;
  at: Date;
}

export interface ReadAudit {
  queue: string;
  /** Only this run's entries. Default: every entry. */
  runId?: number | undefined;
  /** Only this schedule's entries. Default: every entry. */
  schedule?: string | undefined;
  limit: number;
}

export async function readAudit(db: Queryable, p: ReadAudit): Promise<AuditEntry[]> {
  const { rows } = await db.query<{
    id: string;
    at: Date;
    action: AuditAction;
    run_id: string | null;
    schedule: string | null;
    details: Record<string, unknown>;
    actor: string;
    via: AuditVia;
  }>(
    `SELECT id, at, action, run_id, schedule, details, actor, via FROM audit_log
     WHERE queue = $1 AND ($2::bigint IS NULL OR run_id = $2) AND ($3::text IS NULL OR schedule = $3)
     ORDER BY id DESC LIMIT $4`,
    [p.queue, p.runId ?? null, p.schedule ?? null, p.limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    action: r.action,
    runId: r.run_id === null ? null : Number(r.run_id),
    schedule: r.schedule,
    details: r.details,
    actor: r.actor,
    via: r.via,
  }));
}
