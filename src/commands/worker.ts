import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { graceArg, intArg, positiveArg, PROFILE_HELP } from '../cli-options.js';
import { SCHEDULE_TICK_CONCURRENCY, startScheduleWorker } from '../../workers/schedules.js';
import { createPool } from '../db/pool.js';
import { startEnrichWorker } from '../../workers/worker.js';
import { resolveAccount } from '../cams/account.js';
import { camsClientFromConfig } from '../cams/cams-client.js';
import { AppError } from '../errors.js';
import { openDatabase, openQueueStore } from '../connections.js';
import { startPeriodic } from '../periodic.js';
import { camsClockProblem, clockSkewMs, clockSkewProblem } from '../queue/clock-check.js';
import { Resources } from '../resources.js';
import { settleQuota } from './fleet-quota.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const workerDefinition = () =>
  new Command('worker')
    .description('run a worker process (any number may run on any number of machines)')
    .option('--concurrency <N>', 'jobs at once in this process', intArg('--concurrency', 1, 1000), 4)
    .option(
      '--rate <R>',
      'calls per second for the account (overrides CAMS_RATE_LIMIT); must match the quota the fleet stored',
      positiveArg('--rate', 100_000),
    )
    .option(
      '--set-quota',
      'make --rate (or CAMS_RATE_LIMIT) the quota of every worker of the account, replacing the stored one',
    )
    .option(
      '--grace <DURATION>',
      'on a stop, wait this long for the jobs in hand, then abandon them and exit (overrides CAMS_SHUTDOWN_GRACE, default 30s)',
      graceArg('--grace'),
    )
    .option('--profile <NAME>', PROFILE_HELP);
export type WorkerFlags = FlagsOf<typeof workerDefinition>;

/**
 * Runs one worker process until SIGINT/SIGTERM; any number may share a Redis and a database. A stop
 * takes no new job, sends jobs waiting for a call slot back, and lets calls under way finish within
 * the grace period; then (or on a second signal) the jobs still in hand are abandoned to stall
 * recovery and the command returns 1. A complete graceful stop returns 0.
 */
export async function workerCommand(opts: WorkerFlags, ctx: CommandContext): Promise<ExitCode> {
  const startedAt = performance.now();
  const concurrency = opts.concurrency ?? 4;
  if (opts.setQuota && !ctx.config.camsRateLimitGiven)
    throw new AppError('USAGE', '--set-quota needs the new quota: give --rate N (or set CAMS_RATE_LIMIT)');
  const graceMs = opts.grace ?? ctx.config.shutdownGraceMs;
  const cams = await camsClientFromConfig(ctx.config);
  const account = await resolveAccount(ctx.config);
  await cams.warmUp?.();
  const res = new Resources();
  let stopping = false;
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, concurrency + 2);
    // Schedules' ticks have a pool of their own, so ticks at once never take the jobs' connections:
    // each may hold a liveness mark, two merge lanes and (refresh) a cursor.
    const tickPool = res.own(
      createPool(ctx.config.databaseUrl, ctx.log, {
        max: SCHEDULE_TICK_CONCURRENCY * 4 + 1,
        schema: ctx.config.schema,
      }),
      (p) => p.end(),
    );
    const store = await openQueueStore(res, ctx.config, ctx.log, pool, 'worker', {
      signal: ctx.signal,
      startedAt,
      max: concurrency + 6,
    });
    // A worker whose clock is off makes no call: CAMS would refuse them all (see clock-check.ts).
    const now = () => Date.now() + ctx.config.clockOffsetMs;
    const skew = clockSkewProblem(await clockSkewMs(store, now), store.server);
    if (skew) throw skew;
    // What stops this worker on its own: a Redis that turns out misconfigured while it runs (a
    // password or an ACL changed, a failover that left REDIS_URL on a replica; retrying would only
    // fill the log), or a clock gone off.
    const misconfigured = new AbortController();
    let problem: AppError | undefined;
    const stopFor = (why: AppError | undefined) => {
      problem ??= why;
      if (problem) misconfigured.abort();
    };
    const onError = (err: Error) => stopFor(store.configProblem(err));
    store.onError(onError);
    const quota = await settleQuota(store.rateState(account), account, ctx.config, ctx.log, {
      setQuota: opts.setQuota === true,
    });
    const clockWatch = startPeriodic(
      CLOCK_CHECK_INTERVAL_MS,
      async () => stopFor(clockSkewProblem(await clockSkewMs(store, now), store.server)),
      (err) => ctx.log.debug({ err }, 'clock check failed; will retry'),
    );
    res.own(clockWatch, (w) => w.stop());
    const worker = res.own(
      startEnrichWorker({
        queueName: ctx.config.queueName,
        store,
        pool,
        cams,
        log: ctx.log,
        ratePerSecond: quota,
        account,
        attempts: ctx.config.attempts,
        concurrency,
        highWater: ctx.config.queueHighWater,
        onError,
        onClockOff: (err) => stopFor(camsClockProblem(err.code)),
        metricsSpaceLabels: ctx.config.metricsSpaceLabels,
      }),
      (w) => w.close(),
    );
    // Schedules' ticks are carried out by the workers: one tick is one job, taken by one process.
    res.own(startScheduleWorker({ store, pool: tickPool, log: ctx.log, config: ctx.config, onError }), (w) =>
      w.close(),
    );
    ctx.log.info(
      {
        queue: ctx.config.queueName,
        concurrency,
        rate: quota,
        account,
        endpoint: ctx.config.camsEndpoint,
      },
      'worker started',
    );
    await new Promise<void>((resolve) => {
      if (misconfigured.signal.aborted) return resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      misconfigured.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    stopping = true;
    if (problem?.code === 'CLOCK_SKEW') {
      // Calls under way finish (and go back if CAMS refuses them); no new one starts.
      ctx.log.fatal({ code: problem.code }, `stopping: ${problem.message}`);
      void worker.close().catch(() => undefined);
      await stopWithin(res, graceMs, ctx, () => void worker.close(true));
      throw problem;
    }
    if (problem) {
      ctx.log.fatal({ code: problem.code }, `stopping: ${problem.message}`);
      void worker.close(true).catch(() => undefined);
      await stopWithin(res, MISCONFIGURED_STOP_MS, ctx, () => undefined);
      throw problem;
    }
    // The enrich worker stops taking jobs before anything else closes.
    void worker.close().catch(() => undefined);
    ctx.log.info(
      { graceMs },
      'stopping: no new jobs; finishing the calls under way (send the signal again to force)',
    );
    return await stopWithin(res, graceMs, ctx, () => void worker.close(true));
  } finally {
    if (!stopping) await res.close();
  }
}

/** How often a running worker compares its clock with the Redis server's. */
const CLOCK_CHECK_INTERVAL_MS = 60_000;

/** How long a worker stopping for a misconfigured Redis waits for its jobs in hand: calls cannot be stored anyway. */
const MISCONFIGURED_STOP_MS = 5000;

/**
 * Closes everything, waiting at most `graceMs` (or until `ctx.force`); after that the jobs still in
 * hand are abandoned (their lock expires and another worker takes them) and nothing more is awaited.
 */
async function stopWithin(
  res: Resources,
  graceMs: number,
  ctx: CommandContext,
  force: () => void,
): Promise<ExitCode> {
  const closed = res.close().then(
    () => 'closed' as const,
    (err: unknown) => {
      ctx.log.error({ err }, 'closing failed');
      return 'closed' as const;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    closed,
    new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), graceMs))),
    new Promise<'forced'>((resolve) => {
      if (ctx.force?.aborted) resolve('forced');
      ctx.force?.addEventListener('abort', () => resolve('forced'), { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'closed') {
    ctx.log.info({ queue: ctx.config.queueName }, 'worker stopped');
    return 0;
  }
  ctx.log.warn(
    { graceMs },
    outcome === 'grace'
      ? 'grace period over: abandoning the jobs in hand; they return to the queue when their lock expires'
      : 'forced stop: abandoning the jobs in hand; they return to the queue when their lock expires',
  );
  force();
  // Cancelled jobs usually go back to the queue at once; wait a moment for that, no longer.
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  return 1;
}

export const commandLine: CommandLine = (host) =>
  workerDefinition().action(async (opts) =>
    host.exit(
      await workerCommand(
        opts,
        host.context({ ...(opts.rate ? { camsRateLimit: opts.rate } : {}), profile: opts.profile }),
      ),
    ),
  );
