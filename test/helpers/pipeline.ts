/**
 * A whole pipeline for a test: a fresh database, a queue of its own, the simulator, and in-process
 * workers, all closed by `close()`. Only CAMS is simulated; Redis and PostgreSQL are the real ones.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { EnrichWorker } from '../../workers/worker.js';
import type { CamsClient } from '../../src/cams/cams-client.js';
import { migrate } from '../../src/db/migrate.js';
import type { Pool } from '../../src/db/pool.js';
import { createPool } from '../../src/db/pool.js';
import { startLocalStack } from '../../workers/local-stack.js';
import { runCleanups } from '../../src/resources.js';
import { createLogger } from '../../src/log.js';
import type { Logger } from '../../src/log.js';
import type { EnrichQueue } from '../../src/queue/queue.js';
import type { RateTuning } from '../../src/queue/rate-controller.js';
import type { CsvImportOptions } from '../../src/runs/csv-import.js';
import { importCsv } from '../../src/runs/csv-import.js';
import type { RunStatus } from '../../src/runs/status.js';
import { runStatus } from '../../src/runs/status.js';
import type { Simulator, SimulatorOptions } from '../../src/simulator/simulator.js';
import type { TestDatabase } from './services.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  testQueueName,
  testRedis,
  testQueueStore,
  testStoreConfig,
} from './services.js';
import { queueStoreOpener } from '../../src/connections.js';
import type { QueueStore } from '../../src/queue/queue-store.js';
import type { RedisQueueStore } from '../../src/queue/redis-queue-store.js';

export interface PipelineOptions {
  /** Simulator's calls per second (and the workers' limit unless `workerRate` is set). Default 10. */
  rate?: number;
  workerRate?: number;
  simulator?: Omit<SimulatorOptions, 'accessKeyId' | 'accessKeySecret' | 'rate'>;
  /** In-process workers started by `startWorkers`. Default 2. */
  workers?: number;
  attempts?: number;
  backoffMs?: number;
  highWater?: number;
  readTimeoutMs?: number;
  /** How often workers put back lost jobs, in ms. Default: the workers' own default. */
  lostJobsIntervalMs?: number;
  /** Workers' rate controller tuning. Default: the controller's own. */
  tuning?: Partial<RateTuning>;
  /** Runs on the fresh database before it is migrated (to give it tables of its own). */
  beforeMigrate?: (pool: Pool) => Promise<void>;
  /** Where the queue is: the tests' Redis, or BullMQ's PostgreSQL backend in the test's database. Default `testQueueStore()`. */
  queueStore?: 'redis' | 'postgres';
}

export interface Pipeline {
  db: TestDatabase;
  pool: Pool;
  log: Logger;
  queueName: string;
  queue: EnrichQueue;
  /** The stack's store (a producer's). */
  store: QueueStore;
  /** The store's Redis connection; a pipeline on PostgreSQL has none (reading it throws). */
  redis: Redis;
  sim: Simulator;
  cams: CamsClient;
  accessKeyId: string;
  accessKeySecret: string;
  /** The account of the made-up AccessKey: its rate controller is `accountRateKey(account)`. */
  account: string;
  dir: string;
  /** Writes `content` to a CSV file in the test's temp dir and returns its path. */
  csv(name: string, content: string): Promise<string>;
  /** Imports a file as a run and feeds the first window; returns the run id. */
  importFile(file: string, options?: Partial<CsvImportOptions>): Promise<number>;
  startWorkers(count?: number): EnrichWorker[];
  /** Polls the run until finished or the timeout (the accounting invariant is the runs table's CHECK). */
  waitFinished(runId: number, timeoutMs?: number, onPoll?: (s: RunStatus) => void): Promise<RunStatus>;
  close(): Promise<void>;
}

export async function startPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  // A database given tables of its own before it is migrated starts empty; any other is a copy of the migrated template.
  const db = await createTestDatabase({ migrated: options.beforeMigrate === undefined });
  const pool = createPool(db.url, log, { max: 12 });
  await options.beforeMigrate?.(pool);
  await migrate(pool, log);
  const queueName = testQueueName();
  const attempts = options.attempts ?? 6;
  const stack = await startLocalStack({
    pool,
    log,
    openStore: queueStoreOpener(testStoreConfig(options.queueStore ?? testQueueStore(), db.url), log, pool),
    queueName,
    rate: options.rate ?? 10,
    workerRate: options.workerRate,
    simulator: options.simulator,
    connectTimeoutMs: 2000,
    readTimeoutMs: options.readTimeoutMs ?? 3000,
    worker: {
      attempts,
      backoffMs: options.backoffMs ?? 100,
      highWater: options.highWater,
      feedIntervalMs: 200,
      lostJobsIntervalMs: options.lostJobsIntervalMs,
      tuning: options.tuning,
    },
  });
  const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-test-'));

  const pipeline: Pipeline = {
    db,
    pool,
    log,
    queueName,
    queue: stack.queue,
    store: stack.store,
    get redis(): Redis {
      if (stack.store.kind !== 'redis') throw new Error('this pipeline runs its queue on PostgreSQL');
      // The tests' Redis is a single server.
      return (stack.store as RedisQueueStore).redis as Redis;
    },
    sim: stack.sim,
    cams: stack.cams,
    accessKeyId: stack.accessKeyId,
    accessKeySecret: stack.accessKeySecret,
    account: stack.account,
    dir,
    async csv(name, content) {
      const file = join(dir, name);
      await writeFile(file, content);
      return file;
    },
    async importFile(file, importOptions = {}) {
      const { runId } = await importCsv(pool, log, {
        file,
        queue: queueName,
        maxAgeMs: 30 * 24 * 3600 * 1000,
        ...(importOptions.spaceColumn ? {} : { space: 'S1' }),
        ...importOptions,
      });
      await stack.feed();
      return runId;
    },
    startWorkers(count = options.workers ?? 2) {
      return stack.startWorkers(count);
    },
    async waitFinished(runId, timeoutMs = 60_000, onPoll) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await runStatus(pool, runId);
        onPoll?.(s);
        if (s.finished) return s;
        if (Date.now() > deadline)
          throw new Error(`run ${runId} not finished in ${timeoutMs} ms: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close() {
      return runCleanups([
        () => stack.close({ force: true, discardQueue: true }),
        async () => {
          if (stack.store.kind !== 'redis') return;
          const redis = testRedis();
          try {
            await deleteQueueKeys(redis, queueName);
          } finally {
            await redis.quit();
          }
        },
        () => pool.end(),
        () => db.drop(),
        () => rm(dir, { recursive: true, force: true }),
      ]);
    },
  };
  return pipeline;
}
