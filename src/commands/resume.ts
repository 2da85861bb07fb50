import { clearAlert, getAlert } from '../db/ledger.js';
import { markUnqueued, queuedPendingNumbers } from '../db/recovery.js';
import type { NumberKey } from '../db/ledger.js';
import { jobIdFor } from '../queue/queue.js';
import { feedOnce, openDatabase, openQueue, openRedis, Resources } from '../resources.js';
import type { CommandContext, ExitCode } from './context.js';

/**
 * Puts back into Redis every pending number whose job is missing, clears an account alert and
 * resumes a paused queue. Doing it when nothing is missing changes nothing.
 */
export async function resumeCommand(opts: { json?: boolean }, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 2);
    const redis = await openRedis(res, ctx.config, ctx.log, 'producer');
    const queue = openQueue(res, ctx.config, redis, ctx.log);
    let requeued = 0;
    let after: NumberKey | undefined;
    for (;;) {
      const keys = await queuedPendingNumbers(pool, queue.name, 1000, after);
      if (keys.length === 0) break;
      after = keys[keys.length - 1];
      const pipeline = redis.pipeline();
      for (const k of keys) pipeline.exists(queue.toKey(jobIdFor(k.custSpaceId, k.phoneNumber)));
      const exists = (await pipeline.exec()) ?? [];
      const missing = keys.filter((_, i) => exists[i]?.[1] === 0);
      requeued += await markUnqueued(pool, queue.name, missing);
    }
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
