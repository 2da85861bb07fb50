/**
 * What the dashboard's tests set up alike: a dashboard on a pipeline's ledger, queue store and queue,
 * and a schedule ticking every two seconds with a schedule worker carrying its ticks out.
 */
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import type { Dashboard } from '../../src/dashboard/server.js';
import { createDashboard } from '../../src/dashboard/server.js';
import { createRedis } from '../../src/queue/queue.js';
import { createRedisQueueStore } from '../../src/queue/redis-queue-store.js';
import type { ScheduleQueue } from '../../src/schedules/schedules.js';
import { createScheduleQueue, upsertSchedule } from '../../src/schedules/schedules.js';
import type { ScheduleWorker } from '../../workers/schedules.js';
import { startScheduleWorker } from '../../workers/schedules.js';
import type { Pipeline } from './pipeline.js';
import { redisUrl } from './services.js';

/** Every action endpoint of the dashboard's API (POST), on the run `runId` and the schedule `nightly`. */
export function actionPaths(runId: number): string[] {
  return [
    `/api/runs/${runId}/cancel`,
    `/api/runs/${runId}/priority`,
    `/api/runs/${runId}/retry-failed`,
    '/api/queue/pause',
    '/api/queue/resume',
    '/api/resume',
    '/api/schedules/nightly/enable',
    '/api/schedules/nightly/disable',
    '/api/schedules/nightly/run',
  ];
}

export interface PipelineDashboardOptions {
  /** Settings besides the pipeline's DATABASE_URL and CAMS_QUEUE (CAMS_RATE_LIMIT, DASHBOARD_TOKEN …). */
  env?: Record<string, string>;
  /** How often the dashboard samples the fleet, in ms (default: the dashboard's). */
  sampleMs?: number;
}

/** A dashboard on the pipeline's ledger, queue store and queue. The caller closes it. */
export function pipelineDashboard(pipeline: Pipeline, options: PipelineDashboardOptions = {}): Dashboard {
  const config = loadConfig({
    DATABASE_URL: pipeline.db.url,
    CAMS_QUEUE: pipeline.queueName,
    ...options.env,
  });
  return createDashboard({
    config,
    pool: pipeline.pool,
    store: pipeline.store,
    queue: pipeline.queue,
    log: pipeline.log,
    ...(options.sampleMs === undefined ? {} : { sampleMs: options.sampleMs }),
  });
}

export interface TestSchedules {
  /** The pipeline's schedules' queue, on a worker's Redis connection of its own. */
  readonly schedules: ScheduleQueue;
  /** Starts a schedule worker on that connection, which carries the ticks out (once; then the same). */
  startTicks(): ScheduleWorker;
  /** Closes the worker (without waiting for a tick under way), the queue and the connection. */
  close(): Promise<void>;
}

/** The pipeline's schedules' queue, on a Redis connection of its own. */
export function openTestSchedules(pipeline: Pipeline): TestSchedules {
  const connection = createRedis(redisUrl(), 'worker', pipeline.log) as Redis;
  const schedules = createScheduleQueue(pipeline.queueName, createRedisQueueStore(connection, redisUrl()));
  schedules.on('error', () => undefined);
  let ticks: ScheduleWorker | undefined;
  return {
    schedules,
    startTicks() {
      ticks ??= startScheduleWorker({
        store: createRedisQueueStore(connection, redisUrl()),
        pool: pipeline.pool,
        log: pipeline.log,
        config: { databaseUrl: pipeline.db.url, queueName: pipeline.queueName },
      });
      return ticks;
    },
    async close() {
      await ticks?.close(true);
      await schedules.close();
      await connection.quit();
    },
  };
}

/** Adds the schedule `often` (a refresh every two seconds, UTC) and starts the worker carrying its ticks out. */
export async function addOftenSchedule(s: TestSchedules): Promise<void> {
  await upsertSchedule(s.schedules, {
    name: 'often',
    cron: '*/2 * * * * *',
    tz: 'UTC',
    command: ['refresh', '--older-than', '7d'],
  });
  s.startTicks();
}
