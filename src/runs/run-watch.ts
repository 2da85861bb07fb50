/**
 * What a worker tells the people watching its logs, at info: a run of its queue finished, the queue
 * was paused or resumed. Polled (the feeder already polls at a similar pace), so it needs no extra
 * Redis connection and sees a pause made by any process, the CLI or Bull Board.
 */
import type { Queryable } from '../db/pool.js';
import { finishedRunsSince } from '../db/sql/finished-runs-since.js';
import type { Logger } from '../log.js';
import { startPeriodic } from '../periodic.js';
import type { EnrichQueue } from '../queue/queue.js';

export interface RunWatchOptions {
  db: Queryable;
  queue: Pick<EnrichQueue, 'name' | 'isPaused'>;
  log: Logger;
  /** How often to look, in ms. Default 2000. */
  intervalMs?: number;
}

export interface RunWatch {
  /** Looks once now (also what the timer does). */
  check(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * How far back each look reaches before the last one's end. A run's `finished_at` is the start of the
 * transaction that finished it (`now()`), which may commit after a look that began later: that look
 * cannot see the run yet, and the next one, starting at the last one's end, would pass over its time.
 * Looking back this far, and remembering what was told, tells such a run once, late.
 */
const LOOK_BACK_MS = 60_000;

export function startRunWatch(options: RunWatchOptions): RunWatch {
  const { db, queue, log } = options;
  // Runs finished since this process started (its clock; the database's from then on).
  const started = new Date();
  let since = started;
  // Runs told, by id, with their finish time, while it is within the look back.
  const told = new Map<string, number>();
  let paused: boolean | undefined;

  const check = async (): Promise<void> => {
    const from = new Date(Math.max(started.getTime(), since.getTime() - LOOK_BACK_MS));
    const rows = await finishedRunsSince(db, { queue: queue.name, since: from });
    const now = rows[0]?.now;
    for (const r of rows) {
      if (r.id === null || told.has(r.id)) continue;
      told.set(r.id, r.finished_at?.getTime() ?? 0);
      log.info(
        {
          run: Number(r.id),
          source: r.source,
          total: Number(r.total),
          enriched: Number(r.enriched),
          failed: Number(r.failed),
          skipped: Number(r.skipped),
          duplicate: Number(r.duplicate),
          invalid: Number(r.invalid),
          seconds: Math.round(r.seconds),
        },
        `run ${r.id} finished`,
      );
    }
    since = now ?? since;
    for (const [id, at] of told) if (at <= since.getTime() - LOOK_BACK_MS) told.delete(id);
    const isPaused = await queue.isPaused();
    if (paused !== undefined && isPaused !== paused)
      log.info({ queue: queue.name }, isPaused ? 'queue paused' : 'queue resumed');
    else if (paused === undefined && isPaused)
      log.info({ queue: queue.name }, 'queue is paused: no job starts until it is resumed');
    paused = isPaused;
  };

  const checking = startPeriodic(options.intervalMs ?? 2000, check, (err) =>
    log.debug({ err }, 'run watch failed; will retry'),
  );
  return { check, stop: () => checking.stop() };
}
