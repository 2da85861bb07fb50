import { startScheduleWorker } from '../../workers/schedules.js';
import { startEnrichWorker } from '../../workers/worker.js';
import { camsClientFromConfig } from '../cams/cams-client.js';
import { AppError } from '../errors.js';
import { openDatabase, openRedis, Resources } from '../resources.js';
import type { WorkerFlags } from '../cli/flags.js';
import type { CommandContext, ExitCode } from './context.js';

/** Runs one worker process until SIGINT/SIGTERM; any number may share a Redis and a database. */
export async function workerCommand(opts: WorkerFlags, ctx: CommandContext): Promise<ExitCode> {
  const concurrency = opts.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new AppError('USAGE', `--concurrency must be a whole number of at least 1 (got ${concurrency})`);
  }
  const cams = await camsClientFromConfig(ctx.config);
  const res = new Resources();
  try {
    // Two more connections for a schedule's tick (its source cursor on the ledger, its batches).
    const pool = await openDatabase(res, ctx.config, ctx.log, concurrency + 4);
    const connection = await openRedis(res, ctx.config, ctx.log, 'worker');
    const worker = res.own(
      startEnrichWorker({
        queueName: ctx.config.queueName,
        connection,
        pool,
        cams,
        log: ctx.log,
        ratePerSecond: ctx.config.camsRateLimit,
        attempts: ctx.config.attempts,
        concurrency,
        highWater: ctx.config.queueHighWater,
      }),
      (w) => w.close(),
    );
    // Schedules' ticks are carried out by the workers: one tick is one job, taken by one process.
    res.own(startScheduleWorker({ connection, pool, log: ctx.log, config: ctx.config }), (w) => w.close());
    ctx.log.info(
      {
        queue: ctx.config.queueName,
        concurrency,
        rate: ctx.config.camsRateLimit,
        endpoint: ctx.config.camsEndpoint,
      },
      'worker started',
    );
    await new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    ctx.log.info('stopping: finishing the jobs in hand (send the signal again to force)');
    await worker.close();
    return 0;
  } finally {
    await res.close();
  }
}
