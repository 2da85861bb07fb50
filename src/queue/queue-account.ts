/**
 * Which account a queue's workers call CAMS as: each worker writes it under the queue's own key
 * (`<prefix>:<queue>:cams-account`) at start, so `status`, the dashboard and `/metrics` find the
 * account's rate controller from the queue alone, without credentials of their own. Two plain
 * commands, one per hash tag: nothing spans the queue's keys and the account's.
 */
import type { QueueRef, QueueStore } from './queue-store.js';
import { DEFAULT_TUNING, readLimiterState } from './rate-controller.js';
import type { LimiterState } from './rate-controller.js';
import type { RedisClient } from './redis-script.js';

const KEY = 'cams-account';

/** Records the account of the queue's workers (kept a week without a worker's start). */
export async function recordQueueAccount(
  redis: RedisClient,
  queue: QueueRef,
  account: string,
): Promise<void> {
  await redis.set(queue.toKey(KEY), account, 'PX', 7 * 86_400_000);
}

/** The account the queue's workers last recorded; undefined when none did. */
export async function queueAccount(redis: RedisClient, queue: QueueRef): Promise<string | undefined> {
  return (await redis.get(queue.toKey(KEY))) ?? undefined;
}

/** A queue's view of its account's rate controller. */
export type QueueLimiter = LimiterState & {
  /** The account whose controller this is; null when neither a worker nor the configuration named one. */
  account: string | null;
};

/**
 * The rate controller of the queue's account (as its workers recorded it, else `fallback.account`),
 * read without changing it; `fallback.quota` stands in while no quota is stored.
 */
export async function readQueueLimiter(
  store: QueueStore,
  queue: QueueRef,
  fallback: { account: string | undefined; quota: number },
): Promise<QueueLimiter> {
  const account = (await store.queueAccount(queue)) ?? fallback.account;
  if (account === undefined) {
    return {
      account: null,
      quota: fallback.quota,
      quotaStored: false,
      allowedRate: fallback.quota,
      allowedShare: 1,
      marginMs: DEFAULT_TUNING.initialMarginMs,
      throttlesLastMinute: 0,
      pausedForMs: 0,
      unreachableForMs: null,
      active: false,
    };
  }
  return { ...(await readLimiterState(store.rateState(account), fallback.quota)), account };
}
