/**
 * The per-number side of the ledger, used by the feeder and the workers. A job is about a number
 * (cust_space_id, phone_number), not about a run: when the number is done, every pending row of it,
 * in whichever run, is done, and each run's counters move in the same transaction. Each operation
 * is one statement with typed parameters, in its own file under `sql/`; this module composes them.
 */
import type { BusinessProfile } from '../cams/profile.js';
import type { Pool, Queryable } from './pool.js';
import type { PendingCheck } from './sql/check-pending.js';
import type { FailureClass, SettleNumber } from './sql/settle-numbers.js';
import { batched } from './batcher.js';
import { checkPending } from './sql/check-pending.js';
import { clearAlert as clearAlertSql } from './sql/clear-alert.js';
import { raiseAlert as raiseAlertSql } from './sql/raise-alert.js';
import { settleNumbers } from './sql/settle-numbers.js';
import type { ClaimedRow } from './sql/claim-rows-to-feed.js';
import type { RunPriority } from './runs.js';
import { claimRowsToFeed } from './sql/claim-rows-to-feed.js';
import { unclaimRows } from './sql/unclaim-rows.js';
import { releaseFeedLease } from './sql/release-feed-lease.js';
import { takeFeedLease } from './sql/take-feed-lease.js';

export interface NumberKey {
  custSpaceId: string;
  phoneNumber: string;
}

export type { PendingCheck } from './sql/check-pending.js';
export type { FailureClass } from './sql/settle-numbers.js';

/** How a final failure is counted in the usage figures. */
export interface FailureOptions {
  /** The answer concerns the number itself (CAMS refused it): remembered in number_failures. Default false. */
  final?: boolean;
  /** `failed_<classification>` in the usage figures. Default `permanent` when `final`, else `other`. */
  classification?: FailureClass;
  /** Requests to CAMS this failure accounts for (the one that got the final answer). Default 0. */
  calls?: number;
  /** Of those, answered with a throttle. Default 0. */
  throttled?: number;
  /** When the ledger was checked before the call: rows a cancel wrote after it fail too. Default none. */
  since?: string;
}

/**
 * Records a final failure for every pending row of the number, with the error code and message.
 * With `final`, the answer concerns the number itself (CAMS refused it): it is remembered in
 * `number_failures` so later runs within their max age fail it without a call.
 */
export function recordFailure(
  db: Queryable,
  key: NumberKey,
  code: string,
  message: string,
  options: FailureOptions = {},
): Promise<number> {
  return settleOne(db, {
    kind: 'failure',
    ...key,
    code,
    message,
    remember: options.final ?? false,
    classification: options.classification ?? (options.final ? 'permanent' : 'other'),
    calls: options.calls ?? 0,
    throttled: options.throttled ?? 0,
    since: options.since,
  });
}

async function settleOne(db: Queryable, item: SettleNumber): Promise<number> {
  const [settled] = await settleNumbers(db, [item]);
  return settled ?? 0;
}

/** A row the feeder claimed, with the priority of its run. */
export type FeedItem = ClaimedRow;

/** Room in the work buffer: in all, and for each priority (see `ClaimRowsToFeed`). */
export interface FeedRoom {
  limit: number;
  perPriority?: Readonly<Record<RunPriority, number>>;
}

/**
 * Claims pending, not yet queued rows of the queue's ready runs, as many as `room()` allows, in the
 * order the runs share the quota (`sql/claim-rows-to-feed.ts`), and hands them to `enqueue`. The claim
 * marks them queued and commits before `enqueue` is called, so no row lock is held while Redis is
 * spoken to; if `enqueue` fails, the rows are put back to feed again (and should that fail too, the
 * lost-job sweep puts them back; job ids make a second add of a number a no-op). Feeders take turns
 * through the queue's feed lease (`holder` names this one), and `room` is asked under it, so two
 * feeders never both fill the same space. Returns the rows fed, or -1 when another feeder holds the lease.
 */
export async function feedPending(
  pool: Pool,
  queue: string,
  room: () => Promise<FeedRoom>,
  enqueue: (items: FeedItem[]) => Promise<void>,
  options: { holder: string; rotation?: number },
): Promise<number> {
  const lease = { queue, holder: options.holder };
  // Longer than a feed takes; a feeder that died holding it holds it no longer than this.
  if (!(await takeFeedLease(pool, { ...lease, seconds: 30 }))) return -1;
  try {
    const { limit, perPriority } = await room();
    if (limit <= 0) return 0;
    const items = await claimRowsToFeed(pool, { queue, limit, perPriority, rotation: options.rotation ?? 0 });
    if (items.length === 0) return 0;
    try {
      await enqueue(items);
    } catch (err) {
      await unclaimRows(pool, items).catch(() => undefined);
      throw err;
    }
    return items.length;
  } finally {
    await releaseFeedLease(pool, lease).catch(() => undefined);
  }
}

export type { QueueAlert } from './sql/get-alert.js';
export { getAlert } from './sql/get-alert.js';

/** Records why the queue was paused (an account-wide CAMS failure). */
export function raiseAlert(db: Queryable, queue: string, code: string, message: string): Promise<void> {
  return raiseAlertSql(db, { queue, code, message, replace: true });
}

/** Records an alert unless one is already raised for the queue (an account failure stays the one shown). */
export function raiseAlertIfNone(db: Queryable, queue: string, code: string, message: string): Promise<void> {
  return raiseAlertSql(db, { queue, code, message, replace: false });
}

export function clearAlert(db: Queryable, queue: string): Promise<void> {
  return clearAlertSql(db, { queue });
}

/** Clears the queue's alert only when its code is one of `codes`. */
export function clearAlertWithCode(db: Queryable, queue: string, codes: readonly string[]): Promise<void> {
  return clearAlertSql(db, { queue, codes });
}

/** The ledger operations a worker needs, bound to a pool (what `enrich` receives). */
export interface Ledger {
  checkPending(key: NumberKey): Promise<PendingCheck>;
  /** `since`: when the ledger was checked before the call; rows a cancel wrote after it are enriched too. */
  recordProfile(key: NumberKey, profile: BusinessProfile, since?: string): Promise<number>;
  settleFromStore(key: NumberKey): Promise<number>;
  recordFailure(key: NumberKey, code: string, message: string, options?: FailureOptions): Promise<number>;
}

/**
 * The ledger bound to a pool. The two operations every job makes, the check and the write of a fetched
 * profile, are gathered across the jobs that reach them in the same turn of the event loop into one
 * statement each (`batcher.ts`), so a worker running many jobs at once makes few round trips.
 */
export function createLedger(pool: Pool): Ledger {
  const check = batched(
    async (key: NumberKey) => (await checkPending(pool, [key]))[0]!,
    (keys) => checkPending(pool, keys),
  );
  const record = batched(
    (item: SettleNumber) => settleOne(pool, item),
    (items) => settleNumbers(pool, items),
  );
  return {
    checkPending: (key) => check({ custSpaceId: key.custSpaceId, phoneNumber: key.phoneNumber }),
    recordProfile: (key, profile, since) =>
      record({ kind: 'profile', custSpaceId: key.custSpaceId, phoneNumber: key.phoneNumber, profile, since }),
    settleFromStore: (key) =>
      settleOne(pool, { kind: 'store', custSpaceId: key.custSpaceId, phoneNumber: key.phoneNumber }),
    recordFailure: (key, code, message, options) => recordFailure(pool, key, code, message, options),
  };
}
