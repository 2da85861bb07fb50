/**
 * The fleet's rate controller: the one gate every CAMS call passes, shared by every worker process and
 * `lookup` of an account through one state on one server's clock: Redis (`redis-rate-state.ts`, the
 * scripts `lua/rate-*.lua`) or PostgreSQL (`postgres-rate-state.ts`, a locked row per account). This
 * module decides when to ask the state; the state's operations decide, atomically, what each report
 * changes (`rate-state.ts`).
 *
 * Two things can make CAMS throttle a fleet that keeps to its quota on paper, and the controller
 * learns each from the throttles themselves:
 *
 * - **The line.** Calls reach CAMS some time after they take a slot, and that time varies (network
 *   jitter, a busy CPU). Slots are kept to at most `quota` in any `1000 + margin` ms, so a spread up
 *   to the margin never puts more than `quota` calls in a second at CAMS. A slot is reserved ahead
 *   and confirmed when the call goes out, and it counts from then, so a process that woke late
 *   (a busy CPU) delays the calls after it rather than crowding them. A throttle while the fleet was
 *   using its whole window, alone in the last second, multiplies the margin; the margin shrinks
 *   slowly while no throttle comes.
 * - **Other clients of the AccessKey.** Slots are also spaced evenly at the allowed rate, never above
 *   the quota. Throttles in quick succession, or while the fleet got clearly less than its window
 *   through, mean someone else takes the rest: the rate is cut below what got through in the last
 *   second (`cutFactor`), climbs back along a cubic that flattens just under that level
 *   (`cruiseFactor`), and then probes above it along a cubic, slowly at first, so that a probe
 *   finds the ceiling with one throttle, then fast, so the fleet takes the quota back within seconds
 *   after the other client stops.
 *
 * Calls of a better priority (their jobs' BullMQ priority; none is the best, as for `lookup`) go first
 * across the fleet: a call refused a slot records in the state that a call of its priority is waiting,
 * until it asks again, and calls of worse priorities are refused meanwhile. A granted call records
 * nothing, so the worse ones take the next free slot once every better call holds one, and a run whose
 * jobs back off (nobody asking) lends its slots.
 *
 * A cut gives back the slots reserved at the old rate, so the calls behind a throttle are not sent
 * into the same full window. One throttle costs the retry of that call and one adjustment; throttles
 * in the `holdMs` after an adjustment (calls sent before it) change nothing. Only a storm
 * (`stormThrottles` in one second) pauses the whole fleet, for a pause that doubles while storms repeat. A retry hint from CAMS pauses
 * the fleet for that long. A call that cannot reach the endpoint at all pauses the fleet too (doubling,
 * up to `unreachableMaxMs`), so numbers do not spend their attempts while the endpoint is down.
 */
import { randomUUID } from 'node:crypto';
import type { RateStateStore, RateTuning, StateArgs, TakeReply } from './rate-state.js';
import { DEFAULT_TUNING, tuningArgs } from './rate-state.js';
import type { RedisClient } from './redis-script.js';
import { accountRateKey, limiterKeys, redisRateStateAt } from './redis-rate-state.js';

export type { RateStateStore, RateTuning } from './rate-state.js';
export { DEFAULT_TUNING } from './rate-state.js';
export { accountRateKey, createRedisRateState, limiterKeys, redisRateStateAt } from './redis-rate-state.js';

/**
 * The controller's clock. By default the Redis server's (`TIME` inside each script), the same for every
 * process, and real waits; a test drives both to make the controller's decisions repeatable.
 */
export interface ControllerClock {
  /** Now, in ms. */
  now(): number;
  /** Resolves after `ms` of this clock; rejects with the signal's reason when it is aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Where the controller's state is: a store (`createRedisRateState`, `createPostgresRateState`), or Redis at a key. */
export type RateStateOption =
  | { state: RateStateStore }
  | {
      redis: RedisClient;
      /** Base Redis key of the state, one per account: `accountRateKey(account)`. */
      key: string;
    };

export type RateControllerOptions = RateStateOption & {
  /**
   * This process's quota, calls per second (`CAMS_RATE_LIMIT`); the quota stored in the state
   * (`claimQuota`) takes precedence, and the rate never goes above it.
   */
  quota: number;
  /** Overrides of `DEFAULT_TUNING`. */
  tuning?: Partial<RateTuning>;
  /** Default: the state's server's clock and real waits. */
  clock?: ControllerClock;
};

/** What a throttle changed. */
export interface ThrottleVerdict {
  kind: 'none' | 'margin' | 'cut' | 'storm';
  /** Fleet-wide pause that started now, in ms (0 when none). */
  pauseMs: number;
}

export interface UnreachableVerdict {
  /** Fleet-wide pause that started now, in ms (0 when one was already on). */
  pauseMs: number;
  /** True for the one report that should raise the endpoint-down alert. */
  raiseAlert: boolean;
  /** How long the endpoint has been unreachable, in ms. */
  downForMs: number;
}

export interface RateController {
  /**
   * Resolves when this process may make one call; `signal` gives up waiting. `priority` is the calling
   * job's BullMQ priority (a smaller number goes first); none is 0, the best.
   */
  acquire(signal?: AbortSignal, priority?: number): Promise<void>;
  /** Reports a throttled call; `retryAfterMs` is CAMS's hint when it sent one. */
  throttled(retryAfterMs?: number): Promise<ThrottleVerdict>;
  /** Reports a call that could not reach the endpoint (refused, DNS, TLS). */
  unreachable(): Promise<UnreachableVerdict>;
  /** Reports that the endpoint answered; true when an endpoint-down alert should be cleared. */
  reachable(): Promise<boolean>;
}

/** Deletes an account's controller in Redis: what it learned and the quota stored with it (one hash tag). */
export async function forgetAccount(redis: RedisClient, account: string): Promise<void> {
  await redis.del(...limiterKeys(accountRateKey(account)));
}

function stateOf(option: RateStateOption): RateStateStore {
  return 'state' in option ? option.state : redisRateStateAt(option.redis, option.key);
}

/** A slot answered within this many ms of asking goes out at its reserved time, near enough. */
const PROMPT_MS = 5;

const realClock: ControllerClock = { now: () => performance.now(), sleep };

/** A slot granted to one waiting call. */
type Grant = Extract<TakeReply, { granted: true }> & { member: string; asked: number };

interface Waiter {
  signal: AbortSignal | undefined;
  priority: number;
  /** The slot's id, the same each time the call asks. */
  member: string;
  grant: (slot: Grant) => void;
  fail: (err: unknown) => void;
}

export function createRateController(options: RateControllerOptions): RateController {
  const { quota } = options;
  if (!(Number.isFinite(quota) && quota > 0)) throw new RangeError(`quota must be positive (got ${quota})`);
  const t: RateTuning = { ...DEFAULT_TUNING, ...options.tuning };
  const state = stateOf(options);
  const clock = options.clock ?? realClock;
  // The store reads its server's clock unless the caller drives its own.
  const common = (): StateArgs => ({
    quota,
    tuning: tuningArgs(t),
    ...(options.clock ? { now: options.clock.now() } : {}),
  });
  /** Not reserved: the next free slot is more than `aheadMs` away. */
  const pollAfter = (retryInMs: number) => Math.max(t.aheadMs / 2, retryInMs, 1);

  /**
   * Waits for a granted slot's time and lets the call go: true when it may go now, false when the
   * schedule changed while the slot waited (a throttle came back), so it must reserve again.
   */
  async function use(slot: Grant, signal: AbortSignal | undefined): Promise<boolean> {
    // A slot for now needs no confirmation when its time is when the call goes out (the answer came
    // promptly, so nothing changed the schedule since either) or when that time cannot matter (the
    // window is less than half full, as under a raised limit): one round trip per call, not two. A
    // late answer (a busy process) in a full window is confirmed, so the slot counts from when the
    // call really leaves.
    if (slot.waitMs === 0 && (slot.roomy || performance.now() - slot.asked <= PROMPT_MS)) return true;
    try {
      if (slot.waitMs > 0) await clock.sleep(slot.waitMs, signal);
    } catch (err) {
      // Given up: the slot goes back for another call (best effort; it expires anyway).
      state.release(slot.member).catch(() => undefined);
      throw err;
    }
    const confirm = await state.confirm({ ...common(), member: slot.member, reservedAt: slot.reservedAt });
    if (confirm.confirmed) return true;
    if (confirm.pauseMs > 0) await clock.sleep(confirm.pauseMs, signal);
    return false;
  }

  /** One round trip per waiting call (`maxBatch` 1): each call asks for its own slot. */
  async function reserveAlone(signal: AbortSignal | undefined, priority: number): Promise<Grant> {
    const member = randomUUID();
    for (;;) {
      signal?.throwIfAborted();
      const asked = performance.now();
      const [take] = await state.take({ ...common(), priority }, [member]);
      if (!take) throw new Error('the rate state answered no slot');
      if (take.granted) return { ...take, member, asked };
      // Asking again in at least half of `aheadMs` keeps many waiting jobs from polling at every slot.
      await clock.sleep(pollAfter(take.retryInMs), signal);
    }
  }

  // Batches (`maxBatch` > 1): the process's waiting calls queue here by priority, and one round trip at
  // a time reserves slots for as many of the best priority's as it can, first come first served.
  const queue: Waiter[] = [];
  let pumping = false;
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      // The calls that ask in the same tick (jobs handed out together) go in the first batch.
      await Promise.resolve();
      while (queue.length > 0) {
        const { priority } = queue[0]!;
        const batch = queue.filter((w) => w.priority === priority).slice(0, state.maxBatch);
        const members = batch.map((w) => w.member);
        const asked = performance.now();
        let replies: TakeReply[];
        try {
          replies = await state.take({ ...common(), priority }, members);
        } catch (err) {
          for (const w of batch) drop(w)?.fail(err);
          continue;
        }
        let retryInMs = 0;
        batch.forEach((w, i) => {
          const take = replies[i];
          if (!take?.granted) {
            retryInMs = Math.max(retryInMs, take?.retryInMs ?? 0);
            return;
          }
          const slot = { ...take, member: members[i]!, asked };
          if (drop(w) && !w.signal?.aborted) w.grant(slot);
          else state.release(slot.member).catch(() => undefined);
        });
        if (batch.some((w) => queue.includes(w))) await clock.sleep(pollAfter(retryInMs));
      }
    } finally {
      pumping = false;
    }
  }
  function drop(w: Waiter): Waiter | undefined {
    const i = queue.indexOf(w);
    if (i < 0) return undefined;
    queue.splice(i, 1);
    return w;
  }
  function reserveInBatch(signal: AbortSignal | undefined, priority: number): Promise<Grant> {
    signal?.throwIfAborted();
    return new Promise<Grant>((resolve, reject) => {
      const onAbort = () => {
        drop(waiter);
        reject(signal?.reason as Error);
      };
      const waiter: Waiter = {
        signal,
        priority,
        member: randomUUID(),
        grant: (slot) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(slot);
        },
        fail: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err as Error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const behind = queue.findIndex((w) => w.priority > priority);
      queue.splice(behind < 0 ? queue.length : behind, 0, waiter);
      void pump();
    });
  }

  return {
    async acquire(signal, priority = 0) {
      for (;;) {
        const slot =
          state.maxBatch > 1 ? await reserveInBatch(signal, priority) : await reserveAlone(signal, priority);
        if (await use(slot, signal)) return;
      }
    },
    async throttled(retryAfterMs) {
      const hint = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, 60_000) : 0;
      const reply = await state.throttled({
        ...common(),
        member: randomUUID(),
        retryAfterMs: Math.ceil(hint),
        holdMs: t.holdMs,
        ...(t.stormThrottles !== undefined ? { stormThrottles: t.stormThrottles } : {}),
        stormPauseMs: t.stormPauseMs,
        stormMaxPauseMs: t.stormMaxPauseMs,
      });
      return { kind: reply.verdict, pauseMs: reply.pauseMs };
    },
    unreachable: () =>
      state.unreachable({
        ...common(),
        firstPauseMs: t.unreachablePauseMs,
        maxPauseMs: t.unreachableMaxMs,
        alertAfterMs: t.unreachableAlertMs,
      }),
    async reachable() {
      return (await state.reachable()).clearAlert;
    },
  };
}

/** What `claimQuota` found. */
export interface QuotaClaim {
  /** `stored`: none was stored; `same`; `replaced` (asked to); `different`: another quota is stored and stays. */
  outcome: 'stored' | 'same' | 'replaced' | 'different';
  /** The fleet's quota as stored now, calls per second. */
  quota: number;
  /** The quota stored before; null when none was. */
  previous: number | null;
}

/**
 * Compares a process's quota with the one stored in the controller's state: the first process stores
 * its own; with `replace` the process's quota replaces the stored one (every process then runs under it).
 */
export async function claimQuota(
  state: RateStateStore,
  quota: number,
  options: { replace?: boolean; tuning?: Partial<RateTuning> } = {},
): Promise<QuotaClaim> {
  if (!(Number.isFinite(quota) && quota > 0)) throw new RangeError(`quota must be positive (got ${quota})`);
  const t: RateTuning = { ...DEFAULT_TUNING, ...options.tuning };
  return state.claimQuota({ quota, replace: options.replace === true, stateTtlMs: t.stateTtlMs });
}

/** What `status` and the metrics show of a controller. */
export interface LimiterState {
  /** The fleet's quota as stored with the controller (the caller's own while none is stored), calls per second. */
  quota: number;
  /** True when the controller's state holds the quota (a worker or lookup stored it). */
  quotaStored: boolean;
  /** The rate the fleet allows itself now (spacing and window together), calls per second. */
  allowedRate: number;
  /** `allowedRate / quota`. */
  allowedShare: number;
  /** The margin added to the one-second window for the line's delay spread, ms. */
  marginMs: number;
  /** Throttles reported by the fleet in the last 60 s. */
  throttlesLastMinute: number;
  /** Fleet-wide pause left (storm, retry hint or endpoint down), ms. */
  pausedForMs: number;
  /** How long the endpoint has been unreachable, ms; null when it answers. */
  unreachableForMs: number | null;
  /** False until a call went through the controller (the figures are then its starting point). */
  active: boolean;
}

/** Reads a controller's figures without changing them; `quota` is the caller's, used while none is stored. */
export async function readLimiterState(
  state: RateStateStore,
  quota: number,
  tuning: Partial<RateTuning> = {},
  clock?: Pick<ControllerClock, 'now'>,
): Promise<LimiterState> {
  const t: RateTuning = { ...DEFAULT_TUNING, ...tuning };
  const r = await state.read({ quota, tuning: tuningArgs(t), ...(clock ? { now: clock.now() } : {}) });
  return {
    quota: r.quota,
    quotaStored: r.quotaStored,
    allowedRate: Math.round(r.allowedRate * 100) / 100,
    allowedShare: Math.round((r.allowedRate / r.quota) * 1000) / 1000,
    marginMs: r.marginMs,
    throttlesLastMinute: r.throttlesLastMinute,
    pausedForMs: r.pausedForMs,
    unreachableForMs: r.unreachableForMs,
    active: r.active,
  };
}

/** The human form of a controller's figures, one line; `account` names whose controller it is. */
export function describeLimiter(s: LimiterState & { account?: string | null }): string[] {
  const whose = s.account ? `, account ${s.account}` : '';
  const quota = s.quotaStored
    ? `${s.quota}/s quota${whose}`
    : `${s.quota}/s quota (CAMS_RATE_LIMIT here; no worker stored the fleet's yet${whose})`;
  const parts = [
    `  rate: ${s.allowedRate}/s allowed of ${quota} (${Math.round(s.allowedShare * 100)}%)`,
    `margin ${s.marginMs} ms`,
    `${s.throttlesLastMinute} throttle${s.throttlesLastMinute === 1 ? '' : 's'} in the last minute`,
  ];
  if (s.pausedForMs > 0) parts.push(`every call paused for ${Math.ceil(s.pausedForMs / 1000)} s more`);
  if (s.unreachableForMs !== null)
    parts.push(`endpoint unreachable for ${Math.round(s.unreachableForMs / 1000)} s`);
  return [parts.join(', ')];
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
