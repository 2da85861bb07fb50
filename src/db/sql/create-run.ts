/** A new run, in state `importing`, with the id given (drawn from the runs' sequence) or a new one; returns its id. */
import type { Queryable } from '../pool.js';
import type { RunPriority } from './read-runs.js';

export interface CreateRun {
  queue: string;
  source: string;
  /** Numbers fetched more recently than this are skipped (0: always fetch). */
  maxAgeMs: number;
  /** An id drawn from the runs' identity sequence already. Default: the next one. */
  id?: number | undefined;
  /** Default `normal`. */
  priority?: RunPriority | undefined;
  /** The customer space of every row (`--space`); null or absent when the rows carry their own. */
  space?: string | null | undefined;
}

export async function createRun(db: Queryable, p: CreateRun): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO runs (id, queue, source, max_age, priority, space) OVERRIDING SYSTEM VALUE
     VALUES (coalesce($4::bigint, nextval(pg_get_serial_sequence('runs', 'id'))), $1, $2,
             make_interval(secs => $3::float8 / 1000), $5, $6)
     RETURNING id`,
    [p.queue, p.source, p.maxAgeMs, p.id ?? null, p.priority ?? 'normal', p.space ?? null],
  );
  return Number(rows[0]!.id);
}
