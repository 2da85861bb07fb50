/**
 * The rate controller against the real Redis, without BullMQ: what it admits, how a throttle
 * adjusts it, that it climbs back, that it never allows more than the quota, and that two controllers
 * on one key (two processes) share one state. The controllers run on a clock the test drives
 * (`TestClock`), so every decision is the same on a busy machine; assertions are on counts and states.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  claimQuota,
  createRateController,
  limiterKeys,
  readLimiterState,
  type RateTuning,
} from '../src/queue/rate-controller.js';
import { decodeReply, loadScript, runScript, ScriptReplyError } from '../src/queue/redis-script.js';
import { testRedis } from './helpers/services.js';
import { TestClock } from './helpers/test-clock.js';

const connections: Redis[] = [];
const keys: string[] = [];
afterEach(async () => {
  const [first] = connections;
  if (first && keys.length > 0) await first.del(...keys.flatMap((k) => limiterKeys(k)));
  keys.length = 0;
  await Promise.all(connections.splice(0).map((c) => c.quit()));
});

function connection(): Redis {
  const c = testRedis();
  connections.push(c);
  return c;
}

function newKey(): string {
  const key = `cams-enrich:{acct:test-${randomUUID()}}:rate`;
  keys.push(key);
  return key;
}

/** Most timestamps in any window of `ms` (sliding, as a strict server counts). */
function mostInAnyWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** Slot times as the controller recorded them. */
async function slotTimes(redis: Redis, key: string): Promise<number[]> {
  const flat = await redis.zrange(limiterKeys(key)[1], 0, -1, 'WITHSCORES');
  return flat.filter((_, i) => i % 2 === 1).map(Number);
}

describe('the rate controller', () => {
  it('never gives out more than the quota in any second, across two processes sharing one key', async () => {
    const key = newKey();
    const clock = new TestClock();
    const controllers = [connection(), connection()].map((redis) =>
      createRateController({ redis, key, quota: 10, clock }),
    );
    await clock.run(Array.from({ length: 25 }, (_, i) => controllers[i % 2]!.acquire()));
    const slots = await slotTimes(connections[0]!, key);
    expect(slots).toHaveLength(25);
    expect(mostInAnyWindow(slots, 1000)).toBeLessThanOrEqual(10);
  });

  it('keeps at most the quota in any 1000 ms + margin, so a spread of arrival times up to the margin stays within the quota', async () => {
    const key = newKey();
    const redis = connection();
    const clock = new TestClock();
    const tuning = { initialMarginMs: 200 };
    const c = createRateController({ redis, key, quota: 20, tuning, clock });
    await clock.run(Array.from({ length: 45 }, () => c.acquire()));
    expect(mostInAnyWindow(await slotTimes(redis, key), 1200)).toBeLessThanOrEqual(20);
    const state = await readLimiterState(redis, key, 20, tuning, clock);
    expect(state).toMatchObject({ quota: 20, marginMs: 200, active: true });
    expect(state.allowedRate).toBeCloseTo((20 * 1000) / 1200, 1);
  });

  it('records when a call was really let go, so a process that woke late pushes the next calls back', async () => {
    // On the Redis server's clock: the process really is busy while its slot comes.
    const key = newKey();
    const redis = connection();
    // One call a second: the second call may go one window (1000 ms + the 25 ms margin) after the first.
    const c = createRateController({ redis, key, quota: 1 });
    const [sec, micro] = await redis.time();
    const before = Number(sec) * 1000 + Number(micro) / 1000;
    const first = c.acquire();
    // The process is busy for 300 ms while its slot comes: the call goes out that much later.
    const until = performance.now() + 300;
    while (performance.now() < until);
    await first;
    const [recorded] = await slotTimes(redis, key);
    expect(recorded).toBeGreaterThanOrEqual(before + 300);
    // The next call keeps its distance from the late call, not from the slot it was given.
    await c.acquire();
    const [, second] = (await slotTimes(redis, key)).sort((a, b) => a - b);
    expect(second! - recorded!).toBeGreaterThanOrEqual(1025);
  });

  it('takes a slot in a window far from full with one script call, and confirms one in a full window', async () => {
    const redis = connection();
    const calls: string[] = [];
    const evalsha = redis.evalsha.bind(redis);
    // Records the script (its SHA) of every call the controller makes.
    redis.evalsha = ((...args: Parameters<Redis['evalsha']>) => {
      calls.push(String(args[0]));
      return evalsha(...args);
    }) as Redis['evalsha'];
    const clock = new TestClock();
    // A raised limit: ten calls leave the window of 1000 far from full. They come 5 ms apart, more
    // than the 1 ms spacing, so each one's slot is now.
    const roomy = createRateController({ redis, key: newKey(), quota: 1000, clock });
    for (let i = 0; i < 10; i++) {
      await roomy.acquire();
      clock.advance(5);
    }
    expect(calls).toHaveLength(10);
    expect(new Set(calls).size).toBe(1); // take only

    // A full window: the second call's slot is a window away, and it is confirmed when it comes.
    const tight = createRateController({ redis, key: newKey(), quota: 1, clock });
    calls.length = 0;
    await clock.run([tight.acquire()]);
    await clock.run([tight.acquire()]);
    expect(new Set(calls).size).toBe(2); // take and confirm
  });

  it('gives back the slots reserved before a throttle and spaces them at the cut rate', async () => {
    const key = newKey();
    const redis = connection();
    const clock = new TestClock();
    // Two calls a second and slots reserved up to 1.2 s ahead: three acquires get slots 0, 500 and
    // 1025 ms from now, and the throttle below comes 10 ms later, before the second one is due.
    const tuning: Partial<RateTuning> = { aheadMs: 1200 };
    const c = createRateController({ redis, key, quota: 2, tuning, clock });
    const three = [c.acquire(), c.acquire(), c.acquire()];
    await three[0];
    await waitForSleepers(clock, 2);
    clock.advance(10);
    expect((await c.throttled()).kind).toBe('cut');
    const cut = await readLimiterState(redis, key, 2, tuning, clock);
    await clock.run(three);
    const slots = (await slotTimes(redis, key)).sort((a, b) => a - b);
    expect(slots).toHaveLength(3);
    // Reserved again at the cut rate: the two later calls are a cut spacing apart, not 500 ms.
    expect(slots[2]! - slots[1]!).toBeGreaterThanOrEqual(1000 / cut.allowedRate - 50);
    expect(slots[1]! - slots[0]!).toBeGreaterThan(1000);
  });

  it('widens the margin when the fleet was using its whole window alone', async () => {
    const key = newKey();
    const redis = connection();
    const clock = new TestClock();
    const tuning: Partial<RateTuning> = { initialMarginMs: 500 };
    const c = createRateController({ redis, key, quota: 10, tuning, clock });
    await clock.run(Array.from({ length: 10 }, () => c.acquire()));
    const before = await readLimiterState(redis, key, 10, tuning, clock);
    expect((await c.throttled()).kind).toBe('margin');
    const after = await readLimiterState(redis, key, 10, tuning, clock);
    expect(after.marginMs).toBeGreaterThan(before.marginMs);
    expect(after.allowedRate).toBeLessThan(before.allowedRate);
    expect(after.throttlesLastMinute).toBe(1);
  });

  it('answers throttles in quick succession with the rate, not the margin', async () => {
    const key = newKey();
    const redis = connection();
    const clock = new TestClock();
    const tuning: Partial<RateTuning> = { holdMs: 0, initialMarginMs: 1000 };
    const c = createRateController({ redis, key, quota: 10, tuning, clock });
    await clock.run(Array.from({ length: 10 }, () => c.acquire()));
    expect((await c.throttled()).kind).toBe('margin');
    expect((await c.throttled()).kind).toBe('cut');
  });

  it('cuts the rate to what got through when someone else uses the quota, holds, then climbs back', async () => {
    const key = newKey();
    const redis = connection();
    const clock = new TestClock();
    const tuning: Partial<RateTuning> = { approachMs: 400, probe: 1, holdMs: 300 };
    const c = createRateController({ redis, key, quota: 10, tuning, clock });
    // Six calls in the last second, well under the window: the rest of the quota is someone else's.
    for (let i = 0; i < 6; i++) await clock.run([c.acquire()]);
    expect((await c.throttled()).kind).toBe('cut');
    const cut = await readLimiterState(redis, key, 10, tuning, clock);
    expect(cut.allowedRate).toBeLessThanOrEqual(6);
    // A throttle of a call sent before the cut changes nothing.
    clock.advance(100);
    expect((await c.throttled()).kind).toBe('none');
    expect((await readLimiterState(redis, key, 10, tuning, clock)).allowedRate).toBeGreaterThanOrEqual(
      cut.allowedRate,
    );
    // No throttle for a while: back to the cut level, then above it, up to the quota and never beyond.
    const seen: number[] = [];
    for (let i = 0; i < 30; i++) {
      clock.advance(100);
      seen.push((await readLimiterState(redis, key, 10, tuning, clock)).allowedRate);
    }
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(9.5);
    expect(Math.max(...seen)).toBeLessThanOrEqual(10);
    // It never went down while climbing.
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('shares one state between two controllers: a cut by one slows the other', async () => {
    const key = newKey();
    const clock = new TestClock();
    const [a, b] = [connection(), connection()].map((redis) =>
      createRateController({ redis, key, quota: 10, clock }),
    );
    await clock.run([a!.acquire()]);
    clock.advance(10);
    await b!.throttled();
    const state = await readLimiterState(connections[0]!, key, 10, {}, clock);
    // Nothing got through in the last second: the rate is cut by half, the most one throttle cuts.
    expect(state.allowedRate).toBeLessThanOrEqual(5);
    // b's cut spaces a's slots: two more slots from `a` are at least 1000/rate apart.
    await clock.run([a!.acquire()]);
    await clock.run([a!.acquire()]);
    const slots = (await slotTimes(connections[0]!, key)).sort((x, y) => x - y);
    expect(slots[2]! - slots[1]!).toBeGreaterThanOrEqual(1000 / 5);
  });

  it('pauses the whole fleet on a storm of throttles, and for a retry hint', async () => {
    const key = newKey();
    const redis = connection();
    const clock = new TestClock();
    const c = createRateController({ redis, key, quota: 10, tuning: { stormThrottles: 3 }, clock });
    const kinds: string[] = [];
    for (let i = 0; i < 3; i++) kinds.push((await c.throttled()).kind);
    expect(kinds).toEqual(['cut', 'none', 'storm']);
    expect((await readLimiterState(redis, key, 10, {}, clock)).pausedForMs).toBe(1000);

    const other = newKey();
    const d = createRateController({ redis, key: other, quota: 10, clock });
    expect((await d.throttled(5000)).pauseMs).toBe(5000);
    expect((await readLimiterState(redis, other, 10, {}, clock)).pausedForMs).toBe(5000);
    const controller = new AbortController();
    const waiting = d.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow();
  });

  it('pauses for an unreachable endpoint with a growing pause, raises one alert after a while, clears it when reachable', async () => {
    const key = newKey();
    const redis = connection();
    const clock = new TestClock();
    const tuning = { unreachablePauseMs: 50, unreachableMaxMs: 200, unreachableAlertMs: 150 };
    const c = createRateController({ redis, key, quota: 10, tuning, clock });
    const pauses: number[] = [];
    let alerts = 0;
    // Each call waits out the pause the last one started: 50, 100, then 200 ms (the longest).
    for (let i = 0; i < 5; i++) {
      await clock.run([c.acquire()]);
      const v = await c.unreachable();
      if (v.pauseMs > 0) pauses.push(v.pauseMs);
      if (v.raiseAlert) alerts += 1;
    }
    expect(pauses).toEqual([50, 100, 200, 200, 200]);
    expect(alerts).toBe(1);
    expect((await readLimiterState(redis, key, 10, {}, clock)).unreachableForMs).toBeGreaterThan(0);
    expect(await c.reachable()).toBe(true);
    expect(await c.reachable()).toBe(false);
    expect((await readLimiterState(redis, key, 10, {}, clock)).unreachableForMs).toBeNull();
  });

  it('reads a state nobody wrote yet as the caller quota, not stored, not active', async () => {
    const state = await readLimiterState(connection(), newKey(), 10);
    expect(state).toMatchObject({
      quota: 10,
      quotaStored: false,
      throttlesLastMinute: 0,
      pausedForMs: 0,
      active: false,
    });
  });
});

describe("the fleet's quota", () => {
  it('is stored by the first process, compared by the next, and replaced only on purpose', async () => {
    const redis = connection();
    const key = newKey();
    expect(await claimQuota(redis, key, 10)).toEqual({ outcome: 'stored', quota: 10, previous: null });
    expect(await claimQuota(redis, key, 10)).toEqual({ outcome: 'same', quota: 10, previous: 10 });
    expect(await claimQuota(redis, key, 200)).toEqual({ outcome: 'different', quota: 10, previous: 10 });
    expect(await readLimiterState(redis, key, 200)).toMatchObject({
      quota: 10,
      quotaStored: true,
      active: false,
    });
    expect(await claimQuota(redis, key, 200, { replace: true })).toEqual({
      outcome: 'replaced',
      quota: 200,
      previous: 10,
    });
    expect((await readLimiterState(redis, key, 10)).quota).toBe(200);
  });

  it('is the quota every controller of the account keeps to, whatever its own', async () => {
    const redis = connection();
    const key = newKey();
    const clock = new TestClock();
    await claimQuota(redis, key, 2);
    // A process that thinks the quota is 100: the stored 2 decides.
    const c = createRateController({ redis, key, quota: 100, clock });
    await clock.run(Array.from({ length: 6 }, () => c.acquire()));
    expect(mostInAnyWindow(await slotTimes(redis, key), 1000)).toBeLessThanOrEqual(2);
  });
});

describe('script replies and arguments', () => {
  it('refuses a reply with a missing or mistyped field instead of reading it as 0', () => {
    const shape = z.object({ pauseMs: z.number(), raiseAlert: z.boolean() });
    expect(() => decodeReply('x', '{"pauseMs": 5}', shape)).toThrow(ScriptReplyError);
    expect(() => decodeReply('x', '{"pauseMs": "5", "raiseAlert": true}', shape)).toThrow(/pauseMs/);
    expect(() => decodeReply('x', 'not json', shape)).toThrow(ScriptReplyError);
    expect(decodeReply('x', '{"pauseMs": 5, "raiseAlert": false}', shape)).toEqual({
      pauseMs: 5,
      raiseAlert: false,
    });
  });

  it('fails a script called without one of its named arguments, naming it', async () => {
    const redis = connection();
    const key = newKey();
    const take = loadScript('src/queue/lua', 'rate-take-3.lua');
    await expect(
      runScript(redis, take, limiterKeys(key), { quota: 10, tuning: {} }, z.unknown()),
    ).rejects.toThrow(/aheadMs/);
  });
});

/** Waits (on real time, for Redis's answers) until `n` controller calls sleep on `clock`. */
async function waitForSleepers(clock: TestClock, n: number): Promise<void> {
  for (let i = 0; i < 5000 && clock.sleepers() < n; i++) await new Promise((r) => setTimeout(r, 1));
  expect(clock.sleepers()).toBe(n);
}
