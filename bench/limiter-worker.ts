/**
 * One worker process of the limiter bench: `startEnrichWorker` configured from the environment like
 * `cams-enrich worker`, with BENCH_MODE choosing how calls keep to the quota: `controller` (the rate
 * controller, as shipped, its state in Redis), `postgres` (the rate controller with its state in the
 * ledger's PostgreSQL, `createPostgresRateState`) or `stock` (BullMQ's limiter and a queue-wide back-off
 * on each throttle, `stock-gate.ts`). BENCH_CONCURRENCY sets the jobs in hand. Stops on SIGTERM.
 */
import { startEnrichWorker } from '../workers/worker.js';
import { resolveAccount } from '../src/cams/account.js';
import { camsClientFromConfig } from '../src/cams/cams-client.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import type { EnrichJobData } from '../src/queue/queue.js';
import { createPostgresRateState } from '../src/queue/postgres-rate-state.js';
import { openDatabase, openQueueStore } from '../src/connections.js';
import { Resources } from '../src/resources.js';
import { stockWay } from './stock-gate.js';

const config = loadConfig();
const log = createLogger({ level: 'error' });
const mode = process.env.BENCH_MODE ?? 'controller';
if (!['controller', 'postgres', 'stock'].includes(mode)) throw new Error(`unknown BENCH_MODE ${mode}`);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const res = new Resources();
const cams = await camsClientFromConfig(config);
await cams.warmUp?.();
const pool = await openDatabase(res, config, log, concurrency + 2);
const store = await openQueueStore(res, config, log, pool, 'worker', { max: concurrency + 6 });
let stock = {};
if (mode === 'stock') {
  const queue = res.own(store.queue<EnrichJobData>(config.queueName), (q) => q.close());
  queue.on('error', (err) => log.error({ err }, 'queue error'));
  stock = stockWay(cams, (ms) => queue.rateLimit(ms));
}
const account = await resolveAccount(config);
const worker = startEnrichWorker({
  queueName: config.queueName,
  store,
  pool,
  cams,
  log,
  ratePerSecond: config.camsRateLimit,
  account,
  ...(mode === 'postgres'
    ? { rateState: createPostgresRateState(pool, account, { schema: config.schema }) }
    : {}),
  attempts: config.attempts,
  concurrency,
  ...stock,
});
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
await worker.close(true);
await res.close();
process.exit(0);
