/**
 * Keeps the Redis work buffer topped up from the ledger. The buffer is a few seconds of the fleet's
 * work (`bufferSeconds` at `ratePerSecond`), so what sits in Redis ahead of a run that becomes ready is
 * seconds of calls, not thousands of jobs, and the order in which the ledger hands out rows (priority
 * first, runs of one priority in turns: `claimRowsToFeed`) is the order the fleet works in. Each job
 * carries its run's priority as a BullMQ priority, so a higher-priority run's jobs are taken before
 * jobs already buffered for lower ones, and the buffer is counted per priority: jobs of lower
 * priorities do not take a higher one's room (so the work ahead of any job is about `bufferSeconds`).
 * Jobs waiting out a retry delay do not count against the buffer
 * (a run backing off lends its slots to the others); `highWater` caps every unfinished job in Redis.
 * Any process may run a feeder; the queue's feed lease (`feedPending`) makes them take turns.
 */
import type { Config } from '../config.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool } from '../db/pool.js';
import type { FeedItem, FeedRoom } from '../db/ledger.js';
import { RUN_PRIORITIES } from '../db/runs.js';
import { feedPending } from '../db/ledger.js';
import type { Logger } from '../log.js';
import type { Periodic } from '../periodic.js';
import { startPeriodic } from '../periodic.js';
import type { EnrichQueue, JobOptionsConfig } from './queue.js';
import { enrichJobOptions, jobIdFor, jobPriorityOf } from './queue.js';

export interface FeederOptions {
  pool: Pool;
  queue: EnrichQueue;
  log: Logger;
  /** Most unfinished jobs in Redis, delayed retries included. Default 10000. */
  highWater?: number;
  /**
   * The fleet's calls per second: the buffer of jobs ready to run (waiting and active) is kept at
   * `bufferSeconds` of it, at least 20 jobs. Default none: the buffer is `highWater`.
   */
  ratePerSecond?: number;
  /** Seconds of work kept ready in Redis. Default 3. */
  bufferSeconds?: number;
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

/** The smallest buffer, whatever the rate: enough for a few workers' concurrency. */
const MIN_BUFFER = 20;

export function createFeeder(options: FeederOptions): Feeder {
  const { pool, queue, log } = options;
  const highWater = options.highWater ?? 10_000;
  const batchSize = options.batchSize ?? 1000;
  const buffer =
    options.ratePerSecond === undefined
      ? highWater
      : Math.min(
          highWater,
          Math.max(MIN_BUFFER, Math.ceil(options.ratePerSecond * (options.bufferSeconds ?? 3))),
        );
  // Which run of a priority goes first in a claim moves on each claim; feeders start at different places.
  let rotation = Math.floor(Math.random() * 1_000_000);
  // This feeder's name on the queue's feed lease.
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
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
        opts: { ...jobOpts, jobId, priority: jobPriorityOf(item.priority) },
      });
    }
    await queue.addBulk(jobs);
  }

  async function fillOnce(): Promise<number> {
    let fed = 0;
    const room = async (): Promise<FeedRoom> => {
      const [c, p] = await Promise.all([
        queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'waiting-children'),
        queue.getCountsPerPriority([0, 1, 2, 3]),
      ]);
      const ready = (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0);
      const all = ready + (c.delayed ?? 0) + (c['waiting-children'] ?? 0);
      const limit = Math.min(batchSize, highWater - all);
      // What a job of priority `n` waits behind: jobs in hand, jobs without a priority, and those of
      // priority `n` or higher. Jobs of lower priorities are not ahead of it and leave its room alone.
      let ahead = (c.active ?? 0) + (p['0'] ?? 0);
      const perPriority = { high: 0, normal: 0, low: 0 };
      for (const level of RUN_PRIORITIES) {
        ahead += p[String(jobPriorityOf(level))] ?? 0;
        perPriority[level] = Math.max(0, Math.min(limit, buffer - ahead));
      }
      return { limit: Math.min(limit, Math.max(...Object.values(perPriority))), perPriority };
    };
    // A stopping worker frees room as its jobs finish: the loop must not keep refilling it.
    while (!stopping) {
      rotation += 1;
      const n = await feedPending(pool, queue.name, room, enqueue, { holder, rotation });
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

/** Feeds the queue's Redis buffer from the ledger once: a few seconds of work at the quota, at most `CAMS_QUEUE_HIGH_WATER`. */
export async function feedOnce(config: Config, pool: Pool, queue: EnrichQueue, log: Logger): Promise<number> {
  return createFeeder({
    pool,
    queue,
    log,
    highWater: config.queueHighWater,
    ratePerSecond: config.camsRateLimit,
    jobOptions: { attempts: config.attempts },
  }).fill();
}
