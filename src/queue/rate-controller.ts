/**
 * The fleet's rate controller: the one gate every CAMS call passes, shared through Redis by every
 * worker process and `lookup` of an account, with its state on the Redis server's clock (the scripts
 * `lua/rate-*.lua`, each with a header naming its keys and its named arguments).
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
 * A cut gives back the slots reserved at the old rate, so the calls behind a throttle are not sent
 * into the same full window. One throttle costs the retry of that call and one adjustment; throttles
 * in the `holdMs` after an adjustment (calls sent before it) change nothing. Only a storm
 * (`stormThrottles` in one second) pauses the whole fleet, for a pause that doubles while storms repeat. A retry hint from CAMS pauses
 * the fleet for that long. A call that cannot reach the endpoint at all pauses the fleet too (doubling,
 * up to `unreachableMaxMs`), so numbers do not spend their attempts while the endpoint is down.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RedisClient } from './redis-script.js';
import { loadScript, runScript } from './redis-script.js';

/** The scripts' folder, from the package root; each file's header names its KEYS and ARGV. */
const LUA = 'src/queue/lua';
const script = (file: string) => loadScript(LUA, file);

export interface RateTuning {
  /** How far ahead a slot may be reserved, in ms; a change of rate takes effect within it. Default 250. */
  aheadMs: number;
  /** Margin added to the one-second window at the start, in ms. Default 25. */
  initialMarginMs: number;
  /** Largest margin, in ms. Default 1000. */
  maxMarginMs: number;
  /** Factor applied to the margin on a throttle of the line. Default 1.6. */
  marginGrowth: number;
  /** How fast the margin shrinks back, in ms per second, after 10 s without it growing. Default 1. */
  marginDecayMsPerSecond: number;
  /** Time to climb back to the cruising rate after a cut, in ms. Default 7000. */
  approachMs: number;
  /** How fast the rate probes above that, as a share of the quota per second cubed. Default 0.12. */
  probe: number;
  /** The rate right after a cut, as a share of what got through. Default 0.85. */
  cutFactor: number;
  /** The rate cruised at after a cut, as a share of what got through. Default 0.95. */
  cruiseFactor: number;
  /** Lowest rate, in calls per second. Default 0.2. */
  minRate: number;
  /** How long the learned state is kept in Redis without use, in ms. Default one day. */
  stateTtlMs: number;
  /** Throttles after an adjustment that do not adjust again, in ms. Default 1250. */
  holdMs: number;
  /** Throttles within one second that pause the whole fleet. Default max(5, half the quota). */
  stormThrottles?: number;
  /** First fleet-wide pause of a storm, in ms; doubles while storms repeat. Default 1000. */
  stormPauseMs: number;
  /** Longest storm pause, in ms. Default 30000. */
  stormMaxPauseMs: number;
  /** First pause when the endpoint cannot be reached, in ms; doubles while it stays so. Default 1000. */
  unreachablePauseMs: number;
  /** Longest such pause, in ms. Default 30000. */
  unreachableMaxMs: number;
  /** How long the endpoint must stay unreachable before an alert, in ms. Default 60000. */
  unreachableAlertMs: number;
}

export const DEFAULT_TUNING: Readonly<RateTuning> = Object.freeze({
  aheadMs: 250,
  initialMarginMs: 25,
  maxMarginMs: 1000,
  marginGrowth: 1.6,
  marginDecayMsPerSecond: 1,
  approachMs: 7000,
  probe: 0.12,
  cutFactor: 0.85,
  cruiseFactor: 0.95,
  minRate: 0.2,
  stateTtlMs: 86_400_000,
  holdMs: 1250,
  stormPauseMs: 1000,
  stormMaxPauseMs: 30_000,
  unreachablePauseMs: 1000,
  unreachableMaxMs: 30_000,
  unreachableAlertMs: 60_000,
});

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

export interface RateControllerOptions {
  redis: RedisClient;
  /** Base Redis key of the state, one per account: `accountRateKey(account)`. */
  key: string;
  /**
   * This process's quota, calls per second (`CAMS_RATE_LIMIT`); the quota stored in the state
   * (`claimQuota`) takes precedence, and the rate never goes above it.
   */
  quota: number;
  /** Overrides of `DEFAULT_TUNING`. */
  tuning?: Partial<RateTuning>;
  /** Default: the Redis server's clock and real waits. */
  clock?: ControllerClock;
}

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
  /** Resolves when this process may make one call; `signal` gives up waiting. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Reports a throttled call; `retryAfterMs` is CAMS's hint when it sent one. */
  throttled(retryAfterMs?: number): Promise<ThrottleVerdict>;
  /** Reports a call that could not reach the endpoint (refused, DNS, TLS). */
  unreachable(): Promise<UnreachableVerdict>;
  /** Reports that the endpoint answered; true when an endpoint-down alert should be cleared. */
  reachable(): Promise<boolean>;
}

/**
 * The Redis key of an account's controller, under a hash tag of the account's own so that a Redis
 * Cluster keeps its keys together: `cams-enrich:{acct:<account>}:rate`. Every queue of the account
 * shares it, so they must share one Redis database.
 */
export function accountRateKey(account: string): string {
  return `cams-enrich:{acct:${account}}:rate`;
}

/** The state keys a controller uses (state, slots, throttles); delete them to forget what it learned. */
export function limiterKeys(key: string): [string, string, string] {
  return [key, `${key}:slots`, `${key}:throttles`];
}

/** Deletes an account's controller: what it learned and the quota stored with it (one hash tag). */
export async function forgetAccount(redis: RedisClient, account: string): Promise<void> {
  await redis.del(...limiterKeys(accountRateKey(account)));
}

/** The tuning as the scripts read it (`includes/rate-state.lua`). */
function tuningArgs(t: RateTuning) {
  const { stormThrottles: _, ...named } = t;
  return named;
}

const Take = z.discriminatedUnion('granted', [
  z.object({ granted: z.literal(true), waitMs: z.number(), reservedAt: z.number(), roomy: z.boolean() }),
  z.object({ granted: z.literal(false), retryInMs: z.number() }),
]);
const Confirm = z.object({ confirmed: z.boolean(), pauseMs: z.number() });
const Throttled = z.object({ verdict: z.enum(['none', 'margin', 'cut', 'storm']), pauseMs: z.number() });
const Unreachable = z.object({ pauseMs: z.number(), raiseAlert: z.boolean(), downForMs: z.number() });
const Reachable = z.object({ clearAlert: z.boolean() });
const Read = z.object({
  quota: z.number(),
  quotaStored: z.boolean(),
  allowedRate: z.number(),
  marginMs: z.number(),
  throttlesLastMinute: z.number(),
  pausedForMs: z.number(),
  unreachableForMs: z.number().nullable(),
  active: z.boolean(),
});
const Quota = z.object({
  outcome: z.enum(['stored', 'same', 'replaced', 'different']),
  quota: z.number(),
  previous: z.number().nullable(),
});

/** A slot answered within this many ms of asking goes out at its reserved time, near enough. */
const PROMPT_MS = 5;

const realClock: ControllerClock = { now: () => performance.now(), sleep };

export function createRateController(options: RateControllerOptions): RateController {
  const { redis, quota } = options;
  if (!(Number.isFinite(quota) && quota > 0)) throw new RangeError(`quota must be positive (got ${quota})`);
  const t: RateTuning = { ...DEFAULT_TUNING, ...options.tuning };
  const keys = limiterKeys(options.key);
  const clock = options.clock ?? realClock;
  // The scripts read the server's clock unless the caller drives its own.
  const common = () => ({
    quota,
    tuning: tuningArgs(t),
    ...(options.clock ? { now: options.clock.now() } : {}),
  });

  return {
    async acquire(signal) {
      for (;;) {
        signal?.throwIfAborted();
        const member = randomUUID();
        const asked = performance.now();
        const take = await runScript(redis, script('rate-take-3.lua'), keys, { ...common(), member }, Take);
        if (take.granted) {
          // A slot for now needs no confirmation when its time is when the call goes out (the answer
          // came promptly, so nothing changed the schedule since either) or when that time cannot
          // matter (the window is less than half full, as under a raised limit): one round trip to
          // Redis per call, not two. A late answer (a busy process) in a full window is confirmed, so
          // the slot counts from when the call really leaves.
          if (take.waitMs === 0 && (take.roomy || performance.now() - asked <= PROMPT_MS)) return;
          try {
            if (take.waitMs > 0) await clock.sleep(take.waitMs, signal);
          } catch (err) {
            // Given up: the slot goes back for another call (best effort; it expires anyway).
            redis.zrem(keys[1], member).catch(() => undefined);
            throw err;
          }
          const confirm = await runScript(
            redis,
            script('rate-confirm-3.lua'),
            keys,
            { ...common(), member, reservedAt: take.reservedAt },
            Confirm,
          );
          if (confirm.confirmed) return;
          // The schedule changed while this slot waited (a throttle came back): reserve again.
          if (confirm.pauseMs > 0) await clock.sleep(confirm.pauseMs, signal);
          continue;
        }
        // Not reserved: the next free slot is more than `aheadMs` away. Asking again in at least half
        // of `aheadMs` keeps many waiting jobs from polling Redis at every slot.
        await clock.sleep(Math.max(t.aheadMs / 2, take.retryInMs, 1), signal);
      }
    },
    async throttled(retryAfterMs) {
      const hint = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, 60_000) : 0;
      const reply = await runScript(
        redis,
        script('rate-throttled-3.lua'),
        keys,
        {
          ...common(),
          member: randomUUID(),
          retryAfterMs: Math.ceil(hint),
          holdMs: t.holdMs,
          ...(t.stormThrottles !== undefined ? { stormThrottles: t.stormThrottles } : {}),
          stormPauseMs: t.stormPauseMs,
          stormMaxPauseMs: t.stormMaxPauseMs,
        },
        Throttled,
      );
      return { kind: reply.verdict, pauseMs: reply.pauseMs };
    },
    async unreachable() {
      return runScript(
        redis,
        script('rate-unreachable-3.lua'),
        keys,
        {
          ...common(),
          firstPauseMs: t.unreachablePauseMs,
          maxPauseMs: t.unreachableMaxMs,
          alertAfterMs: t.unreachableAlertMs,
        },
        Unreachable,
      );
    },
    async reachable() {
      return (await runScript(redis, script('rate-reachable-1.lua'), [keys[0]], {}, Reachable)).clearAlert;
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
  redis: RedisClient,
  key: string,
  quota: number,
  options: { replace?: boolean; tuning?: Partial<RateTuning> } = {},
): Promise<QuotaClaim> {
  if (!(Number.isFinite(quota) && quota > 0)) throw new RangeError(`quota must be positive (got ${quota})`);
  const t: RateTuning = { ...DEFAULT_TUNING, ...options.tuning };
  return runScript(
    redis,
    script('rate-quota-1.lua'),
    [limiterKeys(key)[0]],
    { quota, replace: options.replace === true, stateTtlMs: t.stateTtlMs },
    Quota,
  );
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
  redis: RedisClient,
  key: string,
  quota: number,
  tuning: Partial<RateTuning> = {},
  clock?: Pick<ControllerClock, 'now'>,
): Promise<LimiterState> {
  const t: RateTuning = { ...DEFAULT_TUNING, ...tuning };
  const r = await runScript(
    redis,
    script('rate-read-3.lua'),
    limiterKeys(key),
    { quota, tuning: tuningArgs(t), ...(clock ? { now: clock.now() } : {}) },
    Read,
  );
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
