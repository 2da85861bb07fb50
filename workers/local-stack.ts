/**
 * The whole product on one machine, for the demo, the tests and the benchmarks: the CAMS simulator
 * with an AccessKey made up for it, a CAMS client signed with that key, the queue, and in-process
 * workers, on a ledger pool the caller owns. `close()` stops them in reverse order of starting.
 */
import { randomBytes } from 'node:crypto';
import type { QueueStore } from '../src/queue/queue-store.js';
import type { RedisRole } from '../src/queue/queue.js';
import type { EnrichWorker, EnrichWorkerOptions } from './worker.js';
import { startEnrichWorker } from './worker.js';
import { accessKeyAccount } from '../src/cams/account.js';
import type { CamsClient } from '../src/cams/cams-client.js';
import { createCamsClient } from '../src/cams/cams-client.js';
import { Secret } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import type { Logger } from '../src/log.js';
import { createFeeder } from '../src/queue/feeder.js';
import type { EnrichJobData, EnrichQueue } from '../src/queue/queue.js';
import { Resources } from '../src/resources.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/simulator.js';
import { startSimulator } from '../src/simulator/simulator.js';

/** Settings of the workers a stack starts, beyond what the stack itself provides. */
export type LocalWorkerOptions = Partial<
  Omit<EnrichWorkerOptions, 'queueName' | 'store' | 'pool' | 'cams' | 'log' | 'ratePerSecond'>
>;

export interface LocalStackOptions {
  /** The migrated ledger; the caller closes it after the stack. */
  pool: Pool;
  log: Logger;
  /**
   * Creates a store of the queue (`queueStoreOpener`): one for the stack's queue, one for each worker (as
   * a worker process has its own), each closed by the stack. `max`: connections a PostgreSQL store
   * may take.
   */
  openStore: (role: RedisRole, max?: number) => QueueStore;
  queueName: string;
  /** The simulator's calls per second per AccessKey, and the workers' unless `workerRate` is set. Default 10. */
  rate?: number;
  /** Calls per second the workers aim for. Default `rate`. */
  workerRate?: number;
  /** More simulator settings (faults, throttle form, delays). Default none. */
  simulator?: Omit<SimulatorOptions, 'accessKeyId' | 'accessKeySecret' | 'rate'>;
  /** Region the client signs for. Default `ap-southeast-1`. */
  regionId?: string;
  /** The client's connect timeout in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** The client's read timeout in ms. Default 10000. */
  readTimeoutMs?: number;
  /** Every worker's settings; `attempts` and `backoffMs` also go into the jobs `feed()` adds. Default attempts 6. */
  worker?: LocalWorkerOptions;
}

export interface LocalStack {
  readonly sim: Simulator;
  readonly cams: CamsClient;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** The account of the made-up AccessKey (`accessKeyAccount`), whose rate controller the workers use. */
  readonly account: string;
  readonly queue: EnrichQueue;
  /** The queue's store (a producer's: it fails fast while Redis is away). */
  readonly store: QueueStore;
  /** Puts pending numbers of the ledger into the queue once, up to the workers' `highWater`; resolves to how many. */
  feed(): Promise<number>;
  /** Starts `count` workers in this process, each on a store (a Redis connection) of its own. */
  startWorkers(count: number): EnrichWorker[];
  /** Stops the workers started so far, letting the jobs in hand finish; the rest stays open. Idempotent. */
  stopWorkers(): Promise<void>;
  /**
   * Stops the workers (`force`: at once, releasing the jobs in hand), then with `discardQueue` removes
   * the queue (its jobs, its fleet's metrics) and the account's rate controller state from the store,
   * then closes the queue, the stores and the simulator. Idempotent.
   */
  close(options?: { force?: boolean; discardQueue?: boolean }): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { pool, log, queueName } = options;
  const rate = options.rate ?? 10;
  const workerOptions: LocalWorkerOptions & { attempts: number } = { attempts: 6, ...options.worker };
  const accessKeyId = `LTAIlocal${randomBytes(6).toString('hex')}`;
  const accessKeySecret = randomBytes(15).toString('base64url');
  // A made-up AccessKey is an account of its own: its rate controller goes with the stack.
  const account = accessKeyAccount(accessKeyId);
  const res = new Resources();
  const connections = new Resources(); // the workers' own, closed after the workers and the queue
  const workers = new Resources();
  let closing: Promise<void> | undefined;
  let settings: { force?: boolean; discardQueue?: boolean } = {};
  try {
    const sim = res.own(
      await startSimulator({ ...options.simulator, accessKeyId, accessKeySecret, rate }),
      (s) => s.close(),
    );
    const cams = createCamsClient({
      credentials: { accessKeyId, accessKeySecret: new Secret(accessKeySecret) },
      endpoint: sim.endpoint,
      protocol: 'http',
      regionId: options.regionId ?? 'ap-southeast-1',
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      readTimeoutMs: options.readTimeoutMs ?? 10_000,
    });
    const store = res.own(options.openStore('producer', 4), (s) => s.close());
    await store.ready();
    res.own(connections, (c) => c.close());
    const queue = res.own(store.queue<EnrichJobData>(queueName), (q) => q.close());
    queue.on('error', (err) => log.error({ err }, 'queue error'));
    res.own(queue, async (q) => {
      if (settings.discardQueue) await store.discardQueue(q);
    });
    res.own(account, async (a) => {
      if (settings.discardQueue) await store.rateState(a).forget();
    });
    res.own(workers, (w) => w.close());
    return {
      sim,
      cams,
      accessKeyId,
      accessKeySecret,
      account,
      queue,
      store,
      feed: () =>
        createFeeder({
          pool,
          queue,
          log,
          highWater: workerOptions.highWater,
          ratePerSecond: options.workerRate ?? rate,
          jobOptions: { attempts: workerOptions.attempts, backoffMs: workerOptions.backoffMs },
        }).fill(),
      startWorkers(count) {
        const concurrency = workerOptions.concurrency ?? 4;
        return Array.from({ length: count }, () => {
          const workerStore = connections.own(options.openStore('worker', concurrency + 4), (s) => s.close());
          return workers.own(
            startEnrichWorker({
              ...workerOptions,
              queueName,
              store: workerStore,
              pool,
              cams,
              log,
              ratePerSecond: options.workerRate ?? rate,
              account,
            }),
            (w) => w.close(settings.force),
          );
        });
      },
      stopWorkers: () => workers.close(),
      close(closeOptions = {}) {
        settings = closeOptions;
        closing ??= res.close();
        return closing;
      },
    };
  } catch (err) {
    await res.close().catch(() => undefined);
    throw err;
  }
}
