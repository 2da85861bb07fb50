/**
 * The fleet's rate controller: the one gate every CAMS call passes, shared through Redis by every
 * worker process and `lookup`, with its state on the Redis server's clock (`rate-scripts.ts`).
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
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CONFIRM, READ, REACHABLE, TAKE, THROTTLED, UNREACHABLE } from './rate-scripts.js';

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

export interface RateControllerOptions {
  redis: Redis;
  /** Redis key of the state, one per account (queue): `limiterKey(queueName)`. */
  key: string;
  /** The account's quota, calls per second (`CAMS_RATE_LIMIT`); the rate never goes above it. */
  quota: number;
  /** Overrides of `DEFAULT_TUNING`. */
  tuning?: Partial<RateTuning>;
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

/** The Redis key of a queue's controller (under BullMQ's default prefix, next to the queue's keys). */
export function limiterKey(queueName: string): string {
  return `bull:${queueName}:cams-rate`;
}

/** The state keys a controller uses; delete them to forget what it learned. */
export function limiterKeys(key: string): [string, string, string] {
  return [key, `${key}:slots`, `${key}:throttles`];
}

function tuningArgs(quota: number, t: RateTuning): number[] {
  return [
    quota,
    t.aheadMs,
    t.initialMarginMs,
    t.maxMarginMs,
    t.marginGrowth,
    t.marginDecayMsPerSecond,
    t.approachMs,
    t.probe,
    t.cutFactor,
    Math.min(t.minRate, quota),
    t.stateTtlMs,
    t.cruiseFactor,
  ];
}

/** A slot answered within this many ms of asking goes out at its reserved time, near enough. */
const PROMPT_MS = 5;

export function createRateController(options: RateControllerOptions): RateController {
  const { redis, quota } = options;
  if (!(Number.isFinite(quota) && quota > 0)) throw new RangeError(`quota must be positive (got ${quota})`);
  const t: RateTuning = { ...DEFAULT_TUNING, ...options.tuning };
  const keys = limiterKeys(options.key);
  const args = tuningArgs(quota, t);
  const stormThrottles = t.stormThrottles ?? Math.max(5, Math.ceil(quota * 0.5));
  const run = async (script: string, extra: (string | number)[]): Promise<number[]> =>
    (await evalScript(redis, script, 3, [...keys, ...args, ...extra])) as number[];

  return {
    async acquire(signal) {
      for (;;) {
        signal?.throwIfAborted();
        const member = randomUUID();
        const asked = performance.now();
        const [granted, ms = 0, reservedAt, roomy] = await run(TAKE, [member]);
        if (granted === 1) {
          // A slot for now needs no confirmation when its time is when the call goes out (the answer
          // came promptly, so nothing changed the schedule since either) or when that time cannot
          // matter (the window is less than half full, as under a raised limit): one round trip to
          // Redis per call, not two. A late answer (a busy process) in a full window is confirmed, so
          // the slot counts from when the call really leaves.
          if (ms === 0 && (roomy === 1 || performance.now() - asked <= PROMPT_MS)) return;
          try {
            if (ms > 0) await sleep(ms, signal);
          } catch (err) {
            // Given up: the slot goes back for another call (best effort; it expires anyway).
            redis.zrem(keys[1], member).catch(() => undefined);
            throw err;
          }
          const [confirmed, pauseMs] = await run(CONFIRM, [member, reservedAt ?? 0]);
          if (confirmed === 1) return;
          // The schedule changed while this slot waited (a throttle came back): reserve again.
          if ((pauseMs ?? 0) > 0) await sleep(pauseMs ?? 0, signal);
          continue;
        }
        // Not reserved: the next free slot is more than `aheadMs` away. Asking again in at least half
        // of `aheadMs` keeps many waiting jobs from polling Redis at every slot.
        await sleep(Math.max(t.aheadMs / 2, ms, 1), signal);
      }
    },
    async throttled(retryAfterMs) {
      const hint = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, 60_000) : 0;
      const [kind, pauseMs] = await run(THROTTLED, [
        randomUUID(),
        Math.ceil(hint),
        t.holdMs,
        stormThrottles,
        t.stormPauseMs,
        t.stormMaxPauseMs,
      ]);
      const kinds = ['none', 'margin', 'cut', 'storm'] as const;
      return { kind: kinds[kind ?? 0] ?? 'none', pauseMs: pauseMs ?? 0 };
    },
    async unreachable() {
      const [pauseMs, raise, downFor] = await run(UNREACHABLE, [
        t.unreachablePauseMs,
        t.unreachableMaxMs,
        t.unreachableAlertMs,
      ]);
      return { pauseMs: pauseMs ?? 0, raiseAlert: raise === 1, downForMs: downFor ?? 0 };
    },
    async reachable() {
      return Number(await evalScript(redis, REACHABLE, 1, [options.key])) === 1;
    },
  };
}

/** What `status` and the metrics show of a controller. */
export interface LimiterState {
  /** The account's quota, calls per second. */
  quota: number;
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

/** Reads a controller's figures without changing them. */
export async function readLimiterState(
  redis: Redis,
  key: string,
  quota: number,
  tuning: Partial<RateTuning> = {},
): Promise<LimiterState> {
  const t: RateTuning = { ...DEFAULT_TUNING, ...tuning };
  const [allowed, margin, throttles, paused, down, exists] = (await evalScript(redis, READ, 3, [
    ...limiterKeys(key),
    ...tuningArgs(quota, t),
  ])) as number[];
  const allowedRate = Math.round(allowed ?? 0) / 1000;
  return {
    quota,
    allowedRate: Math.round(allowedRate * 100) / 100,
    allowedShare: Math.round((allowedRate / quota) * 1000) / 1000,
    marginMs: margin ?? 0,
    throttlesLastMinute: throttles ?? 0,
    pausedForMs: paused ?? 0,
    unreachableForMs: down === undefined || down < 0 ? null : down,
    active: exists === 1,
  };
}

/** The human form of a controller's figures, one line. */
export function describeLimiter(s: LimiterState): string[] {
  const parts = [
    `  rate: ${s.allowedRate}/s allowed of ${s.quota}/s quota (${Math.round(s.allowedShare * 100)}%)`,
    `margin ${s.marginMs} ms`,
    `${s.throttlesLastMinute} throttle${s.throttlesLastMinute === 1 ? '' : 's'} in the last minute`,
  ];
  if (s.pausedForMs > 0) parts.push(`every call paused for ${Math.ceil(s.pausedForMs / 1000)} s more`);
  if (s.unreachableForMs !== null)
    parts.push(`endpoint unreachable for ${Math.round(s.unreachableForMs / 1000)} s`);
  return [parts.join(', ')];
}

const shas = new Map<string, string>();

/** EVALSHA, falling back to EVAL the first time Redis does not know the script. */
async function evalScript(
  redis: Redis,
  script: string,
  numKeys: number,
  args: (string | number)[],
): Promise<unknown> {
  let sha = shas.get(script);
  if (sha === undefined) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
  try {
    return await redis.evalsha(sha, numKeys, ...args);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
    return redis.eval(script, numKeys, ...args);
  }
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
