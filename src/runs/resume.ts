/**
 * Resuming a queue, as `cams-enrich resume` and the dashboard's resume button both do it: abort the
 * runs of importers that died, put back into Redis every pending number whose job is missing, clear
 * an account alert, resume a paused queue and feed the first window. Doing it when nothing is missing
 * changes nothing.
 */
import type { QueueStore } from '../queue/queue-store.js';
import type { Config } from '../config.js';
import { abortAbandonedImports } from '../db/import-liveness.js';
import { clearAlert, getAlert } from '../db/ledger.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import { requeueLostJobs } from '../queue/lost-jobs.js';
import type { EnrichQueue } from '../queue/queue.js';
import { feedOnce } from '../queue/feeder.js';

export interface ResumeResult {
  queue: string;
  /** Numbers whose job Redis had lost, put back. */
  requeued: number;
  /** Jobs fed to Redis afterwards. */
  fed: number;
  /** The queue was paused and is running again. */
  resumed: boolean;
  /** Code of the account alert that was cleared, if any. */
  clearedAlert: string | null;
}

export async function resumeQueue(
  config: Config,
  deps: { pool: Pool; queue: EnrichQueue; store: QueueStore; log: Logger },
): Promise<ResumeResult> {
  const { pool, queue, store, log } = deps;
  await abortAbandonedImports(pool, log);
  const requeued = await requeueLostJobs({ pool, queue, store });
  const alert = await getAlert(pool, queue.name);
  const wasPaused = await queue.isPaused();
  if (alert) await clearAlert(pool, queue.name);
  if (wasPaused) await queue.resume();
  const fed = await feedOnce(config, pool, queue, log);
  return { queue: queue.name, requeued, fed, resumed: wasPaused, clearedAlert: alert?.code ?? null };
}

/** One line for people. */
export function describeResume(r: ResumeResult): string {
  return r.requeued === 0 && !r.resumed && !r.clearedAlert
    ? `nothing to resume on queue ${r.queue}`
    : `queue ${r.queue}: ${r.requeued} numbers put back, ${r.fed} fed to Redis${r.resumed ? ', resumed' : ''}${r.clearedAlert ? `, cleared ${r.clearedAlert}` : ''}`;
}
