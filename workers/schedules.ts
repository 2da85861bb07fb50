/**
 * Wires schedule ticks into a BullMQ Worker on the schedules' queue: every `cams-enrich worker` runs
 * one, so schedules need no daemon of their own, and each tick (one job) is taken by one of them.
 */
import type { Job } from 'bullmq';
import type { QueueStore, StoreWorker } from '../src/queue/queue-store.js';
import type { Config } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import type { Logger } from '../src/log.js';
import { repeatLimitedLog } from '../src/log-repeats.js';
import type { ScheduleJobData } from '../src/schedules/schedules.js';
import { createScheduleQueue, scheduleQueueName } from '../src/schedules/schedules.js';
import { runCleanups } from '../src/resources.js';
import { runTick } from '../src/schedules/tick.js';

export interface ScheduleWorkerOptions {
  /** Where the queue is; on Redis, a worker's connection. The caller closes it after `close()`. */
  store: QueueStore;
  pool: Pool;
  log: Logger;
  config: Pick<Config, 'databaseUrl' | 'queueName'>;
  /** Told of every error the Worker and its queue emit, after it is logged. Default: nobody. */
  onError?: (err: Error) => void;
  /**
   * Ticks this process carries out at once: ticks of different schedules never wait for each other
   * (two ticks of one schedule never run at once: the later one is skipped). Default
   * `SCHEDULE_TICK_CONCURRENCY`.
   */
  concurrency?: number | undefined;
}

/** Ticks one worker process carries out at once, by default. */
export const SCHEDULE_TICK_CONCURRENCY = 4;

export interface ScheduleWorker {
  readonly worker: StoreWorker<ScheduleJobData>;
  /** Stops taking ticks, lets those in hand finish (or, with `force`, releases them). Idempotent. */
  close(force?: boolean): Promise<void>;
}

export function startScheduleWorker(options: ScheduleWorkerOptions): ScheduleWorker {
  const { store, pool, log, config } = options;
  const queue = createScheduleQueue(config.queueName, store);
  const report = repeatLimitedLog(log);
  queue.on('error', (err) => {
    report('error', err, 'schedules queue error');
    options.onError?.(err);
  });
  const isActive = async (jobId: string) => (await queue.getJobState(jobId)) === 'active';
  const worker = store.worker<ScheduleJobData>(
    scheduleQueueName(config.queueName),
    (job: Job<ScheduleJobData>) => runTick({ pool, log, config, isActive }, job),
    { concurrency: options.concurrency ?? SCHEDULE_TICK_CONCURRENCY },
    config.queueName,
  );
  worker.on('error', (err) => {
    report('error', err, 'schedule worker error');
    options.onError?.(err);
  });
  let closing: Promise<void> | undefined;
  return {
    worker,
    close(force = false) {
      closing ??= runCleanups([() => worker.close(force), () => queue.close()]);
      return closing;
    },
  };
}
