/**
 * The rate controller against the real Redis, without BullMQ: what it admits, how a throttle
 * adjusts it, that it climbs back, that it never allows more than the quota, and that two controllers
 * on one key (two processes) share one state. Assertions are on counts and states, never on speed.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRateController,
  limiterKeys,
  readLimiterState,
  type RateTuning,
} from '../src/queue/rate-controller.js';
import { testRedis } from './helpers/services.js';

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
  const key = `test-limiter-${randomUUID()}`;
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

/** Slot times on the Redis clock, as the controller recorded them. */
async function slotTimes(redis: Redis, key: string): Promise<number[]> {
  const flat = await redis.zrange(limiterKeys(key)[1], 0, -1, 'WITHSCORES');
  return flat.filter((_, i) => i % 2 === 1).map(Number);
}

describe('the rate controller', () => {
  it('never gives out more than the quota in any second, across two processes sharing one key', async () => {
    const key = newKey();
    const controllers = [connection(), connection()].map((redis) =>
      createRateController({ redis, key, quota: 10 }),
    );
    await Promise.all(Array.from({ length: 25 }, (_, i) => controllers[i % 2]!.acquire()));
    const slots = await slotTimes(connections[0]!, key);
    expect(slots).toHaveLength(25);
    // The recorded times are when each call was let go (a process that woke late records a later
    // time, and the slots after it keep their distance from that): never more than the quota in any
    // second of those.
    expect(mostInAnyWindow(slots, 1000)).toBeLessThanOrEqual(10);
  });

  it('keeps at most the quota in any 1000 ms + margin, so a spread of arrival times up to the margin stays within the quota', async () => {
    const key = newKey();
    const redis = connection();
    const c = createRateController({ redis, key, quota: 20, tuning: { initialMarginMs: 200 } });
    await Promise.all(Array.from({ length: 45 }, () => c.acquire()));
    expect(mostInAnyWindow(await slotTimes(redis, key), 1200)).toBeLessThanOrEqual(20);
    const state = await readLimiterState(redis, key, 20, { initialMarginMs: 200 });
    expect(state).toMatchObject({ quota: 20, marginMs: 200, active: true });
    expect(state.allowedRate).toBeCloseTo((20 * 1000) / 1200, 1);
  });

  it('records when a call was really let go, so a process that woke late pushes the next calls back', async () => {
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
    const key = newKey();
    const redis = connection();
    const calls: string[] = [];
    const evalsha = redis.evalsha.bind(redis);
    // Records the script (its SHA) of every call the controller makes.
    redis.evalsha = ((...args: Parameters<Redis['evalsha']>) => {
      calls.push(String(args[0]));
      return evalsha(...args);
    }) as Redis['evalsha'];
    // A raised limit: ten calls leave the window of 1000 far from full. They come 5 ms apart, more
    // than the 1 ms spacing, so each one's slot is now.
    const roomy = createRateController({ redis, key, quota: 1000 });
    for (let i = 0; i < 10; i++) {
      await roomy.acquire();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(calls).toHaveLength(10);
    expect(new Set(calls).size).toBe(1); // TAKE only

    // A full window: the second call's slot is a window away, and it is confirmed when it comes.
    const tight = createRateController({ redis, key: newKey(), quota: 1 });
    calls.length = 0;
    await tight.acquire();
    await tight.acquire();
    expect(new Set(calls).size).toBe(2); // TAKE and CONFIRM
  });

  it('gives back the slots reserved before a throttle and spaces them at the cut rate', async () => {
    const key = newKey();
    const redis = connection();
    // Two calls a second and slots reserved up to 1.2 s ahead: three acquires get slots 0, 500 and
    // 1000 ms from now, and the throttle below comes long before the second one is due.
    const tuning: Partial<RateTuning> = { aheadMs: 1200 };
    const c = createRateController({ redis, key, quota: 2, tuning });
    const three = [c.acquire(), c.acquire(), c.acquire()];
    await three[0];
    expect((await c.throttled()).kind).toBe('cut');
    const cut = await readLimiterState(redis, key, 2, tuning);
    await Promise.all(three);
    const slots = (await slotTimes(redis, key)).sort((a, b) => a - b);
    expect(slots).toHaveLength(3);
    // Reserved again at the cut rate: the two later calls are a cut spacing apart, not 500 ms.
    expect(slots[2]! - slots[1]!).toBeGreaterThanOrEqual(1000 / cut.allowedRate - 50);
    expect(slots[1]! - slots[0]!).toBeGreaterThan(1000);
  });

  it('widens the margin when the fleet was using its whole window alone', async () => {
    const key = newKey();
    const redis = connection();
    // A wide margin makes the window's capacity 5/s, so the ten slots count as a full window even if
    // the machine stalls for a few hundred ms.
    const tuning: Partial<RateTuning> = { initialMarginMs: 500 };
    const c = createRateController({ redis, key, quota: 10, tuning });
    await Promise.all(Array.from({ length: 10 }, () => c.acquire()));
    const before = await readLimiterState(redis, key, 10, tuning);
    const verdict = await c.throttled();
    expect(verdict.kind).toBe('margin');
    const after = await readLimiterState(redis, key, 10, tuning);
    expect(after.marginMs).toBeGreaterThan(before.marginMs);
    expect(after.allowedRate).toBeLessThan(before.allowedRate);
    expect(after.throttlesLastMinute).toBe(1);
  });

  it('answers throttles in quick succession with the rate, not the margin', async () => {
    const key = newKey();
    const redis = connection();
    // A wide margin makes the window's capacity 5/s, so the ten slots count as a full window even if
    // the machine stalls for a few hundred ms.
    const tuning: Partial<RateTuning> = { holdMs: 0, initialMarginMs: 1000 };
    const c = createRateController({ redis, key, quota: 10, tuning });
    await Promise.all(Array.from({ length: 10 }, () => c.acquire()));
    expect((await c.throttled()).kind).toBe('margin');
    expect((await c.throttled()).kind).toBe('cut');
  });

  it('cuts the rate to what got through when someone else uses the quota, holds, then climbs back', async () => {
    const key = newKey();
    const redis = connection();
    const tuning: Partial<RateTuning> = { approachMs: 400, probe: 1, holdMs: 300 };
    const c = createRateController({ redis, key, quota: 10, tuning });
    // Six calls in the last second, well under the window: the rest of the quota is someone else's.
    for (let i = 0; i < 6; i++) await c.acquire();
    expect((await c.throttled()).kind).toBe('cut');
    const cut = await readLimiterState(redis, key, 10, tuning);
    expect(cut.allowedRate).toBeLessThanOrEqual(6);
    // A throttle of a call sent before the cut changes nothing.
    expect((await c.throttled()).kind).toBe('none');
    expect((await readLimiterState(redis, key, 10, tuning)).allowedRate).toBeGreaterThanOrEqual(
      cut.allowedRate,
    );
    // No throttle for a while: back to the cut level, then above it, up to the quota and never beyond.
    let state = cut;
    for (let i = 0; i < 60 && state.allowedRate < 9.5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await readLimiterState(redis, key, 10, tuning);
    }
    expect(state.allowedRate).toBeGreaterThan(cut.allowedRate);
    expect(state.allowedRate).toBeLessThanOrEqual(10);
  });

  it('shares one state between two controllers: a cut by one slows the other', async () => {
    const key = newKey();
    const [a, b] = [connection(), connection()].map((redis) =>
      createRateController({ redis, key, quota: 10 }),
    );
    await a!.acquire();
    await b!.throttled();
    const state = await readLimiterState(connections[0]!, key, 10);
    // Nothing got through in the last second: the rate is cut by half, the most one throttle cuts.
    expect(state.allowedRate).toBeLessThanOrEqual(5);
    // b's cut spaces a's slots: two more slots from `a` are at least 1000/rate apart.
    await a!.acquire();
    await a!.acquire();
    const slots = (await slotTimes(connections[0]!, key)).sort((x, y) => x - y);
    expect(slots[2]! - slots[1]!).toBeGreaterThanOrEqual(1000 / 5);
  });

  it('pauses the whole fleet on a storm of throttles, and for a retry hint', async () => {
    const key = newKey();
    const redis = connection();
    const c = createRateController({ redis, key, quota: 10, tuning: { stormThrottles: 3 } });
    const kinds: string[] = [];
    for (let i = 0; i < 3; i++) kinds.push((await c.throttled()).kind);
    expect(kinds.at(-1)).toBe('storm');
    expect((await readLimiterState(redis, key, 10)).pausedForMs).toBeGreaterThan(0);

    const other = newKey();
    const d = createRateController({ redis, key: other, quota: 10 });
    expect((await d.throttled(5000)).pauseMs).toBe(5000);
    expect((await readLimiterState(redis, other, 10)).pausedForMs).toBeGreaterThan(4000);
    const controller = new AbortController();
    const waiting = d.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow();
  });

  it('pauses for an unreachable endpoint with a growing pause, raises one alert after a while, clears it when reachable', async () => {
    const key = newKey();
    const redis = connection();
    const c = createRateController({
      redis,
      key,
      quota: 10,
      tuning: { unreachablePauseMs: 50, unreachableMaxMs: 200, unreachableAlertMs: 150 },
    });
    const pauses: number[] = [];
    let alerts = 0;
    const started = Date.now();
    while (Date.now() - started < 600) {
      await c.acquire();
      const v = await c.unreachable();
      if (v.pauseMs > 0) pauses.push(v.pauseMs);
      if (v.raiseAlert) alerts += 1;
    }
    expect(pauses.slice(0, 3)).toEqual([50, 100, 200]);
    expect(alerts).toBe(1);
    expect((await readLimiterState(redis, key, 10)).unreachableForMs).toBeGreaterThan(0);
    expect(await c.reachable()).toBe(true);
    expect(await c.reachable()).toBe(false);
    expect((await readLimiterState(redis, key, 10)).unreachableForMs).toBeNull();
  });

  it('reads a state nobody wrote yet as the quota, not active', async () => {
    const state = await readLimiterState(connection(), newKey(), 10);
    expect(state).toMatchObject({ quota: 10, throttlesLastMinute: 0, pausedForMs: 0, active: false });
  });
});
