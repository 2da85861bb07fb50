/**
 * The queue store a ledger runs with (`queue_store`): the first process that opens a queue on the
 * ledger records its store, and a process configured with the other one refuses to start, so a ledger
 * never gets a second queue and a second rate controller beside the first.
 */
import { AppError } from '../errors.js';
import type { Queryable } from './pool.js';
import { readQueueStore } from './sql/read-queue-store.js';
import type { QueueStoreName } from './sql/record-queue-store.js';
import { recordQueueStore } from './sql/record-queue-store.js';

const SERVER: Record<QueueStoreName, string> = { redis: 'Redis', postgres: 'PostgreSQL' };

/**
 * Records `store` as the ledger's when it has none (`record`; read-only commands only compare), and
 * throws `QUEUE_STORE_MISMATCH` (exit 2) when the ledger runs with the other one.
 */
export async function assertLedgerQueueStore(
  db: Queryable,
  store: QueueStoreName,
  options: { record: boolean },
): Promise<void> {
  const recorded = options.record ? await recordQueueStore(db, store) : await readQueueStore(db);
  if (recorded === undefined || recorded === store) return;
  throw new AppError(
    'QUEUE_STORE_MISMATCH',
    recorded === 'redis'
      ? `this ledger runs its queue on ${SERVER.redis}, but REDIS_URL is not set (which means the queue on ${SERVER.postgres}): set REDIS_URL to the Redis its workers use`
      : `this ledger runs its queue on ${SERVER.postgres}, but REDIS_URL is set (which means the queue on ${SERVER.redis}): unset REDIS_URL to use the queue on ${SERVER.postgres}`,
  );
}
