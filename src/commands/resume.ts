import { abortAbandonedImports } from '../db/import-liveness.js';
import { clearAlert, getAlert } from '../db/ledger.js';
import { requeueLostJobs } from '../queue/lost-jobs.js';
import { feedOnce, openLedgerAndQueue, Resources } from '../resources.js';
import type { ResumeFlags } from '../cli/flags.js';
import type { CommandContext, ExitCode } from './context.js';

/**
 * Puts back into Redis every pending number whose job is missing, clears an account alert and
 * resumes a paused queue. Doing it when nothing is missing changes nothing.
 */
export async function resumeCommand(opts: ResumeFlags, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { pool, redis, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 2);
    await abortAbandonedImports(pool, ctx.log);
    const requeued = await requeueLostJobs({ pool, queue, redis });
    const alert = await getAlert(pool, queue.name);
    const wasPaused = await queue.isPaused();
    if (alert) await clearAlert(pool, queue.name);
    if (wasPaused) await queue.resume();
    const fed = await feedOnce(ctx.config, pool, queue, ctx.log);
    const result = {
      queue: queue.name,
      requeued,
      fed,
      resumed: wasPaused,
      clearedAlert: alert?.code ?? null,
    };
    if (opts.json) ctx.out(JSON.stringify(result));
    else {
      ctx.out(
        requeued === 0 && !wasPaused && !alert
          ? `nothing to resume on queue ${queue.name}`
          : `queue ${queue.name}: ${requeued} numbers put back, ${fed} fed to Redis${wasPaused ? ', resumed' : ''}${alert ? `, cleared ${alert.code}` : ''}`,
      );
    }
    return 0;
  } finally {
    await res.close();
  }
}
