/**
 * Where the queue lives: one interface over what is not the ledger's own, kept by one of two stores.
 * Redis (`redis-queue-store.ts`: BullMQ on Redis, the fleet's metrics and heartbeats under the queue's
 * keys, the rate controller's scripts) scales out to a fleet; PostgreSQL (`postgres-queue-store.ts`:
 * BullMQ's PostgreSQL backend, tables of the ledger's schema, the rate controller's state row) needs no
 * server besides the ledger's. A command opens one (`openQueueStore` in `src/connections.ts`, from
 * `Config.queueStore`) and everything else asks it.
 */
import type { IQueueBackend, JobProgress, Processor, Queue, Worker, WorkerOptions } from 'bullmq';
import type { Registry } from 'prom-client';
import type { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RateStateStore } from './rate-state.js';

export type QueueStoreKind = 'redis' | 'postgres';

/* eslint-disable @typescript-eslint/no-explicit-any -- BullMQ's result and connection types vary by store */
/** A BullMQ queue on either store. */
export type StoreQueue<T> = Queue<T, any, string, T, any, string, IQueueBackend, any>;
/** A BullMQ worker on either store. */
export type StoreWorker<T> = Worker<T, any, string, IQueueBackend, JobProgress, any>;
/** A worker's options, less what the store decides (its connection, its key prefix). */
export type StoreWorkerOptions = Omit<WorkerOptions<any>, 'connection' | 'prefix'>;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** What names a queue's own records in a store: its name and BullMQ's `toKey`. */
export interface QueueRef {
  readonly name: string;
  toKey(type: string): string;
}

export interface MetricsPublisherOptions {
  queue: QueueRef;
  registry: Registry;
  log: Logger;
  /** How often the snapshot is written, in ms. Default 2000. */
  intervalMs?: number;
  /** Lifetime of a snapshot not refreshed, in ms. Default 30000 (fifteen missed publishes). */
  ttlMs?: number;
}

export interface MetricsPublisher {
  /** This process's id among the queue's publishers: `host:pid:random`. */
  readonly id: string;
  /** Writes the snapshot now. */
  publish(): Promise<void>;
  /** Stops publishing and folds this process's counters into the retired snapshot. Idempotent. */
  close(): Promise<void>;
}

/** One live process's snapshot: its id (`host:pid:random`) and its metrics as prom-client's JSON. */
export interface ProcessSnapshot {
  id: string;
  host: string;
  pid: number;
  metrics: Array<{
    name?: unknown;
    type: unknown;
    values?: Array<{ value: number; labels?: Record<string, unknown> }>;
  }>;
}

export interface FleetSnapshot {
  /** Processes whose snapshot is live. */
  processes: number;
  /** The sum over live and retired processes. */
  registry: Registry;
}

/** Schedules kept aside while disabled, for one schedules' queue: name → the schedule's spec as JSON. */
export interface DisabledSchedules {
  all(): Promise<Record<string, string>>;
  get(name: string): Promise<string | undefined>;
  set(name: string, spec: string): Promise<void>;
  /** False when there was none of that name. */
  remove(name: string): Promise<boolean>;
}

export interface QueueStore {
  readonly kind: QueueStoreKind;
  /** The server's name in messages: `Redis`, `PostgreSQL`. */
  readonly server: string;
  /**
   * A BullMQ queue named `name`; `group` is the enrichment queue it belongs to (the schedules' queue
   * belongs to its enrichment queue: on a Redis Cluster, under its hash tag). The caller closes it.
   */
  queue<T>(name: string, group?: string): StoreQueue<T>;
  /** A BullMQ worker of the queue `name` (`group` as for `queue`). The caller closes it. */
  worker<T>(
    name: string,
    processor: Processor<T>,
    options: StoreWorkerOptions,
    group?: string,
  ): StoreWorker<T>;
  /** The store server's clock, in ms since the epoch: the one clock a fleet shares. */
  timeMs(): Promise<number>;
  /** Publishes this process's metrics for the queue's fleet (`fleet-metrics.ts`). */
  startMetricsPublisher(options: MetricsPublisherOptions): MetricsPublisher;
  /** Adds up every live snapshot and the retired counters of the queue's fleet; drops expired ones. */
  readFleetMetrics(queue: QueueRef, ttlMs?: number): Promise<FleetSnapshot>;
  /** Each live process's own snapshot, for a view of the fleet process by process. */
  readProcessSnapshots(queue: QueueRef): Promise<ProcessSnapshot[]>;
  /** Processes of the queue's fleet alive now (from their own heartbeats). */
  countLiveProcesses(queue: QueueRef): Promise<number>;
  /** For each job id, whether the queue still has that job (any state). */
  jobsExist(queue: QueueRef, jobIds: readonly string[]): Promise<boolean[]>;
  /**
   * Removes a queue for good: BullMQ's jobs and bookkeeping, its fleet's metrics and its recorded
   * account. For a queue of its own that is done with (the demo, a bench, a test).
   */
  discardQueue<T>(queue: StoreQueue<T>): Promise<void>;
  /** Where the schedules' queue `queue` keeps its disabled schedules. */
  disabledSchedules(queue: QueueRef): DisabledSchedules;
  /** The account's rate controller state. */
  rateState(account: string): RateStateStore;
  /** Records the account the queue's workers call CAMS as (kept a week without a worker's start). */
  recordQueueAccount(queue: QueueRef, account: string): Promise<void>;
  /** The account the queue's workers last recorded; undefined when none did. */
  queueAccount(queue: QueueRef): Promise<string | undefined>;
  /**
   * Resolves when the store's server answers and the store is ready for queues and workers (on
   * PostgreSQL: BullMQ's schema checked, migrated when missing or behind and the role may); throws otherwise. Also the dashboard's readiness probe.
   */
  ready(): Promise<void>;
  /** What is wrong with the server's settings, such as Redis's eviction policy; undefined when nothing is. */
  warning(): Promise<string | undefined>;
  /** A connection error that retrying cannot fix (a password, an ACL changed), as the error that stops a worker. */
  configProblem(err: unknown): AppError | undefined;
  /** Tells `listener` of errors of the store's own connection. */
  onError(listener: (err: Error) => void): void;
  /** Closes what the store itself opened. Idempotent. */
  close(): Promise<void>;
}
