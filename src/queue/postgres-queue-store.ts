/**
 * The queue on PostgreSQL: BullMQ's PostgreSQL backend (`withBackend(createPostgresBackend)`, its
 * tables and functions in the schema `bullmq`, checked at open: `postgres-queue-schema.ts`) on a pool
 * of its own, and, in the ledger's schema through the ledger's pool, the fleet's metrics and
 * heartbeats (`postgres-fleet-metrics.ts`), the queue's account and the rate controller's state.
 *
 * BullMQ's pool sets its `search_path` at connection start and each worker keeps a `LISTEN`
 * connection of it for as long as it runs: it needs a direct connection or a pooler in session mode
 * (a transaction pooler serves the ledger's pool, not this one).
 */
import { createPostgresBackend, withBackend } from 'bullmq';
import type { Processor } from 'bullmq';
import pg from 'pg';
import type { Pool } from '../db/pool.js';
import { pgErrorFields, withClient } from '../db/pool.js';
import { deleteDisabledSchedule } from '../db/sql/delete-disabled-schedule.js';
import { discardQueueRecords } from '../db/sql/discard-queue-records.js';
import { readDisabledSchedules } from '../db/sql/read-disabled-schedules.js';
import { saveDisabledSchedule } from '../db/sql/save-disabled-schedule.js';
import { existingJobs } from '../db/sql/existing-jobs.js';
import { readQueueAccount } from '../db/sql/read-queue-account.js';
import { recordQueueAccount } from '../db/sql/record-queue-account.js';
import { serverTimeMs } from '../db/sql/server-time.js';
import type { Logger } from '../log.js';
import {
  countPostgresLiveProcesses,
  readPostgresFleetMetrics,
  readPostgresProcessSnapshots,
  startPostgresMetricsPublisher,
} from '../metrics/postgres-fleet-metrics.js';
import { BULL_SCHEMA, prepareQueueSchema } from './postgres-queue-schema.js';
import type { QueueStore, StoreQueue, StoreWorker, StoreWorkerOptions } from './queue-store.js';
import type { RateStateStore } from './rate-state.js';

export interface PostgresQueueStoreOptions {
  /** `DATABASE_URL`: BullMQ's pool connects there. */
  databaseUrl: string;
  /** The ledger's pool (on its schema): the fleet's metrics, the queue's account. The caller closes it. */
  ledger: Pool;
  log: Logger;
  /** The account's rate controller state in the ledger (`createPostgresRateState`). */
  rateState: (account: string) => RateStateStore;
  /** Connections of BullMQ's pool, each worker's `LISTEN` connection among them. Default 10. */
  max?: number;
}

export interface PostgresQueueStore extends QueueStore {
  readonly kind: 'postgres';
}

/** BullMQ's pool: its schema first on the `search_path` of every connection, as BullMQ's SQL expects. */
function createBullPool(databaseUrl: string, max: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    application_name: 'cams-enrich-queue',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    options: `-c search_path=${pg.escapeIdentifier(BULL_SCHEMA)}`,
  });
  pool.on('error', (err) => log.warn({ err: pgErrorFields(err) }, 'idle PostgreSQL queue connection lost'));
  pool.on('connect', (client) => {
    client.on('error', (err) => log.debug({ err: pgErrorFields(err) }, 'PostgreSQL queue connection lost'));
  });
  return pool;
}

/**
 * The PostgreSQL store, on a pool of its own for BullMQ. `ready()` checks BullMQ's schema and migrates
 * it only when it is missing or behind and this role may (`prepareQueueSchema`; BullMQ's migrator takes
 * its own advisory lock, so processes starting at once apply it once): call it before the first queue
 * or worker.
 */
export function createPostgresQueueStore(options: PostgresQueueStoreOptions): PostgresQueueStore {
  const { ledger, log } = options;
  const bullPool = createBullPool(options.databaseUrl, options.max ?? 10, log);
  let migrated: Promise<unknown> | undefined;
  const Bull = withBackend(createPostgresBackend);
  const errorListeners: ((err: Error) => void)[] = [];
  bullPool.on('error', (err) => errorListeners.forEach((l) => l(err)));
  let closing: Promise<void> | undefined;
  return {
    kind: 'postgres',
    server: 'PostgreSQL',
    queue<T>(name: string) {
      return new Bull.Queue<T>(name, { connection: bullPool }) as unknown as StoreQueue<T>;
    },
    worker<T>(name: string, processor: Processor<T>, workerOptions: StoreWorkerOptions) {
      return new Bull.Worker<T>(name, processor, {
        ...workerOptions,
        connection: bullPool,
      }) as unknown as StoreWorker<T>;
    },
    timeMs: () => serverTimeMs(ledger),
    startMetricsPublisher: (o) => startPostgresMetricsPublisher(ledger, o),
    readFleetMetrics: (queue) => readPostgresFleetMetrics(ledger, queue.name),
    readProcessSnapshots: (queue) => readPostgresProcessSnapshots(ledger, queue.name),
    countLiveProcesses: (queue) => countPostgresLiveProcesses(ledger, queue.name),
    async jobsExist(queue, jobIds) {
      const found = await existingJobs(ledger, { queue: queue.name, ids: jobIds });
      return jobIds.map((id) => found.has(id));
    },
    async discardQueue(queue) {
      await queue.obliterate({ force: true });
      await discardQueueRecords(ledger, queue.name);
    },
    disabledSchedules(queue) {
      return {
        all: () => readDisabledSchedules(ledger, queue.name),
        get: async (name) => (await readDisabledSchedules(ledger, queue.name, name))[name],
        set: (name, spec) => saveDisabledSchedule(ledger, { queue: queue.name, name, spec }),
        remove: (name) => deleteDisabledSchedule(ledger, queue.name, name),
      };
    },
    rateState: (account) => options.rateState(account),
    recordQueueAccount: (queue, account) => recordQueueAccount(ledger, queue.name, account),
    queueAccount: (queue) => readQueueAccount(ledger, queue.name),
    async ready() {
      migrated ??= withClient(bullPool, (client) => prepareQueueSchema(client, BULL_SCHEMA));
      try {
        await migrated;
      } catch (err) {
        migrated = undefined;
        throw err;
      }
    },
    warning: async () => undefined,
    configProblem: () => undefined,
    onError(listener) {
      errorListeners.push(listener);
    },
    close() {
      closing ??= bullPool.end();
      return closing;
    },
  };
}
