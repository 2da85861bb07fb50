/**
 * Keeps the Redis work buffer topped up from the ledger: at most `highWater` unfinished jobs in Redis,
 * whatever the size of the runs in PostgreSQL. Any process may run one; an advisory lock in
 * `feedPending` makes them take turns.
 */
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { FeedItem } from '../db/ledger.js';
import { feedPending } from '../db/ledger.js';
import type { Logger } from '../log.js';
import type { Periodic } from '../periodic.js';
import { startPeriodic } from '../periodic.js';
import type { EnrichQueue, JobOptionsConfig } from './queue.js';
import { enrichJobOptions, jobIdFor, unfinishedJobs } from './queue.js';

export interface FeederOptions {
  pool: Pool;
  queue: EnrichQueue;
  log: Logger;
  /** Most unfinished jobs in Redis. Default 10000. */
  highWater?: number;
  /** Rows claimed per transaction. Default 1000. */
  batchSize?: number;
  jobOptions: JobOptionsConfig;
}

export interface Feeder {
  /** Feeds until the buffer is full or nothing is left to feed; returns the rows fed. */
  fill(): Promise<number>;
  /** Calls `fill` every `intervalMs` until `stop`. */
  start(intervalMs: number): void;
  /** Stops the timer and waits for a fill in progress. Idempotent. */
  stop(): Promise<void>;
}

export function createFeeder(options: FeederOptions): Feeder {
  const { pool, queue, log } = options;
  const highWater = options.highWater ?? 10_000;
  const batchSize = options.batchSize ?? 1000;
  const jobOpts = enrichJobOptions(options.jobOptions);
  let periodic: Periodic | undefined;
  let running: Promise<number> | undefined;
  let stopping = false;

  async function enqueue(items: FeedItem[]): Promise<void> {
    const seen = new Set<string>();
    const jobs = [];
    for (const item of items) {
      const jobId = jobIdFor(item.custSpaceId, item.phoneNumber);
      if (seen.has(jobId)) continue; // the same number pending in two runs: one job serves both
      seen.add(jobId);
      jobs.push({
        name: 'enrich',
        data: { custSpaceId: item.custSpaceId, phoneNumber: item.phoneNumber },
        opts: { ...jobOpts, jobId },
      });
    }
    await queue.addBulk(jobs);
  }

  async function fillOnce(): Promise<number> {
    let fed = 0;
    const room = async () => Math.min(batchSize, highWater - (await unfinishedJobs(queue)));
    // A stopping worker frees room as its jobs finish: the loop must not keep refilling it.
    while (!stopping) {
      const n = await feedPending(pool, queue.name, room, enqueue);
      if (n <= 0) break;
      fed += n;
    }
    if (fed > 0) log.debug({ fed }, 'fed the work buffer');
    return fed;
  }

  function fill(): Promise<number> {
    running ??= fillOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    fill,
    start(intervalMs) {
      periodic ??= startPeriodic(intervalMs, fill, (err) =>
        log.warn({ err }, 'feeding the work buffer failed; will retry'),
      );
    },
    async stop() {
      stopping = true;
      await periodic?.stop();
      await running?.catch(() => undefined);
    },
  };
}

/** Feeds the queue's Redis buffer from the ledger up to `CAMS_QUEUE_HIGH_WATER`, once. */
export async function feedOnce(config: Config, pool: Pool, queue: EnrichQueue, log: Logger): Promise<number> {
  return createFeeder({
    pool,
    queue,
    log,
    highWater: config.queueHighWater,
    jobOptions: { attempts: config.attempts },
  }).fill();
}
