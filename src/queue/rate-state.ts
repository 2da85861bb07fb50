/**
 * Where the fleet's rate controller keeps its state (`rate-controller.ts` decides when to ask, the
 * store decides, atomically and on its server's clock, what each report changes). Two stores keep the
 * same state with the same rules: Redis (`redis-rate-state.ts`, the scripts `lua/rate-*.lua`) and
 * PostgreSQL (`postgres-rate-state.ts`, the functions `rate_*` of the migrations), one function per
 * script under the script's name. Every operation takes the scripts' named arguments and answers with
 * the scripts' reply, decoded strictly by the shapes below.
 */
import { z } from 'zod';

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
  /** How long the learned state is kept without use, in ms. Default one day. */
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

/** The tuning as the state's operations read it (`args.tuning`). */
export type TuningArgs = Omit<RateTuning, 'stormThrottles'>;

/** `tuning` as the state's operations read it. */
export function tuningArgs(t: RateTuning): TuningArgs {
  const { stormThrottles: _, ...named } = t;
  return named;
}

/** The arguments every operation but `reachable`, `claimQuota` and `forget` takes. */
export interface StateArgs {
  /** The caller's quota, calls per second (used only while the state stores none). */
  quota: number;
  tuning: TuningArgs;
  /** The caller's clock in ms when it drives the controller (tests); else the store's server's clock. */
  now?: number;
}

export interface TakeArgs extends StateArgs {
  /**
   * The calls' priority, BullMQ's (a smaller number goes first; default 0, the best): a call is refused
   * while a call of a better priority is waiting, anywhere in the fleet.
   */
  priority?: number;
}

export interface ConfirmArgs extends StateArgs {
  /** The slot's id, as given to `take`. */
  member: string;
  /** The time of its reservation, as `take` answered. */
  reservedAt: number;
}

export interface ThrottledArgs extends StateArgs {
  /** The report's id (a fresh UUID). */
  member: string;
  /** CAMS's retry hint, 0 when none. */
  retryAfterMs: number;
  holdMs: number;
  /** Default max(5, half the quota). */
  stormThrottles?: number;
  stormPauseMs: number;
  stormMaxPauseMs: number;
}

export interface UnreachableArgs extends StateArgs {
  firstPauseMs: number;
  maxPauseMs: number;
  alertAfterMs: number;
}

export interface QuotaArgs {
  quota: number;
  replace: boolean;
  stateTtlMs: number;
}

export const TakeReply = z.discriminatedUnion('granted', [
  z.object({ granted: z.literal(true), waitMs: z.number(), reservedAt: z.number(), roomy: z.boolean() }),
  z.object({ granted: z.literal(false), retryInMs: z.number() }),
]);
export const ConfirmReply = z.object({ confirmed: z.boolean(), pauseMs: z.number() });
export const ThrottledReply = z.object({
  verdict: z.enum(['none', 'margin', 'cut', 'storm']),
  pauseMs: z.number(),
});
export const UnreachableReply = z.object({
  pauseMs: z.number(),
  raiseAlert: z.boolean(),
  downForMs: z.number(),
});
export const ReachableReply = z.object({ clearAlert: z.boolean() });
export const ReadReply = z.object({
  quota: z.number(),
  quotaStored: z.boolean(),
  allowedRate: z.number(),
  marginMs: z.number(),
  throttlesLastMinute: z.number(),
  pausedForMs: z.number(),
  unreachableForMs: z.number().nullable(),
  active: z.boolean(),
});
export const QuotaReply = z.object({
  outcome: z.enum(['stored', 'same', 'replaced', 'different']),
  quota: z.number(),
  previous: z.number().nullable(),
});

export type TakeReply = z.infer<typeof TakeReply>;
export type ConfirmReply = z.infer<typeof ConfirmReply>;
export type ThrottledReply = z.infer<typeof ThrottledReply>;
export type UnreachableReply = z.infer<typeof UnreachableReply>;
export type ReachableReply = z.infer<typeof ReachableReply>;
export type ReadReply = z.infer<typeof ReadReply>;
export type QuotaReply = z.infer<typeof QuotaReply>;

/** One account's controller state, in Redis or in PostgreSQL. Each operation is atomic on its server. */
export interface RateStateStore {
  /** Which store this is, for logs and messages. */
  readonly kind: 'redis' | 'postgres';
  /**
   * Most slots one `take` reserves in one round trip. 1 (Redis): every waiting call asks for itself;
   * more (PostgreSQL): a process asks once for all its waiting calls.
   */
  readonly maxBatch: number;
  /**
   * Reserves a slot for each member, calls of one priority, in order (`rate-take-4.lua` once per
   * member, at one time): one reply per member; after the first that is not granted, none is. A
   * refusal records the priority as waiting until the call asks again.
   */
  take(args: TakeArgs, members: readonly string[]): Promise<TakeReply[]>;
  /** A reserved slot's time came and its call goes out now (`rate-confirm-3.lua`). */
  confirm(args: ConfirmArgs): Promise<ConfirmReply>;
  /** Gives a reserved slot back (a call that gave up waiting); best effort, it expires anyway. */
  release(member: string): Promise<void>;
  /** A call came back throttled (`rate-throttled-3.lua`). */
  throttled(args: ThrottledArgs): Promise<ThrottledReply>;
  /** A call could not reach the endpoint (`rate-unreachable-3.lua`). */
  unreachable(args: UnreachableArgs): Promise<UnreachableReply>;
  /** The endpoint answered (`rate-reachable-1.lua`). */
  reachable(): Promise<ReachableReply>;
  /** The figures of the state, changing nothing (`rate-read-3.lua`). */
  read(args: StateArgs): Promise<ReadReply>;
  /** Stores or compares the fleet's quota (`rate-quota-1.lua`). */
  claimQuota(args: QuotaArgs): Promise<QuotaReply>;
  /** Deletes the state: what the controller learned and the quota stored with it. */
  forget(): Promise<void>;
}
