/**
 * The rate controller's contract, run against each store of its state (Redis and PostgreSQL), without
 * BullMQ: what it admits, how a throttle adjusts it, that it climbs back, that it never allows more
 * than the quota, and that two controllers of one account (two processes, each with its own
 * connection) share one state. The controllers run on a clock the test drives (`TestClock`), whose
 * time every operation passes to the store as `now`, so every decision is the same on a busy
 * machine; assertions are on counts and states. Each test has an account of its own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  claimQuota,
  createRateController,
  readLimiterState,
  DEFAULT_TUNING,
  type RateController,
  type RateStateStore,
  type RateTuning,
} from '../src/queue/rate-controller.js';
import { tuningArgs } from '../src/queue/rate-state.js';
import { decodeReply, ScriptReplyError } from '../src/queue/redis-script.js';
import { startPgBouncer } from './helpers/pgbouncer.js';
import { postgresStore, redisStore } from './helpers/rate-stores.js';
import type { StoreFixture } from './helpers/rate-stores.js';
import type { TestClock } from './helpers/test-clock.js';

const postgres = postgresStore();
const stores: StoreFixture[] = [redisStore(), postgres];

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

/** The store, counting the operations the controller asks of it. */
function counted(state: RateStateStore): { state: RateStateStore; calls: string[] } {
  const calls: string[] = [];
  const wrapped = Object.fromEntries(
    Object.entries(state).map(([name, value]) => [
      name,
      typeof value === 'function'
        ? (...args: unknown[]) => {
            calls.push(name);
            return (value as (...a: unknown[]) => unknown).apply(state, args);
          }
        : value,
    ]),
  ) as unknown as RateStateStore;
  return { state: wrapped, calls };
}

describe.each(stores)('the rate controller on $name', (store) => {
  beforeAll(() => store.setup());
  afterAll(() => store.teardown());
  afterEach(() => store.cleanup());

  let newest = '';
  /** A fresh account. */
  const newAccount = () => (newest = `test-${randomUUID()}`);
  /** The account `newAccount` made last. */
  const newestAccount = () => newest;

  it('never gives out more than the quota in any second, across two processes sharing one account', async () => {
    const account = newAccount();
    const clock = store.clock();
    const controllers = [store.open(account), store.open(account)].map((state) =>
      createRateController({ state, quota: 10, clock }),
    );
    await clock.run(Array.from({ length: 25 }, (_, i) => controllers[i % 2]!.acquire()));
    const slots = await store.slotTimes(account);
    expect(slots).toHaveLength(25);
    expect(mostInAnyWindow(slots, 1000)).toBeLessThanOrEqual(10);
  });

  it('keeps at most the quota in any 1000 ms + margin, so a spread of arrival times up to the margin stays within the quota', async () => {
    const account = newAccount();
    const state = store.open(account);
    const clock = store.clock();
    const tuning = { initialMarginMs: 200 };
    const c = createRateController({ state, quota: 20, tuning, clock });
    await clock.run(Array.from({ length: 45 }, () => c.acquire()));
    expect(mostInAnyWindow(await store.slotTimes(account), 1200)).toBeLessThanOrEqual(20);
    const read = await readLimiterState(state, 20, tuning, clock);
    expect(read).toMatchObject({ quota: 20, marginMs: 200, active: true });
    expect(read.allowedRate).toBeCloseTo((20 * 1000) / 1200, 1);
  });

  it('records when a call was really let go, so a process that woke late pushes the next calls back', async () => {
    // On the server's clock: the process really is busy while its slot comes.
    const account = newAccount();
    // One call a second: the second call may go one window (1000 ms + the 25 ms margin) after the first.
    const c = createRateController({ state: store.open(account), quota: 1 });
    const before = await store.serverNow();
    const first = c.acquire();
    // The process is busy for 300 ms while its slot comes: the call goes out that much later.
    const until = performance.now() + 300;
    while (performance.now() < until);
    await first;
    const [recorded] = await store.slotTimes(account);
    expect(recorded).toBeGreaterThanOrEqual(before + 300);
    // The next call keeps its distance from the late call, not from the slot it was given.
    await c.acquire();
    const [, second] = (await store.slotTimes(account)).sort((a, b) => a - b);
    expect(second! - recorded!).toBeGreaterThanOrEqual(1025);
  });

  it('takes a slot in a window far from full with one operation, and confirms one in a full window', async () => {
    const clock = store.clock();
    // A raised limit: ten calls leave the window of 1000 far from full. They come 5 ms apart, more
    // than the 1 ms spacing, so each one's slot is now.
    const roomy = counted(store.open(newAccount()));
    const r = createRateController({ state: roomy.state, quota: 1000, clock });
    for (let i = 0; i < 10; i++) {
      await r.acquire();
      clock.advance(5);
    }
    expect(roomy.calls).toEqual(Array.from({ length: 10 }, () => 'take'));

    // A full window: the second call's slot is a window away, and it is confirmed when it comes.
    const tight = counted(store.open(newAccount()));
    const t = createRateController({ state: tight.state, quota: 1, clock });
    await clock.run([t.acquire()]);
    await clock.run([t.acquire()]);
    expect(new Set(tight.calls)).toEqual(new Set(['take', 'confirm']));
  });

  it("reserves the slots of a process's waiting calls in one operation when the store takes batches", async () => {
    const account = newAccount();
    const clock = store.clock();
    const { state, calls } = counted(store.open(account));
    // Eight calls at once, 100 calls a second: every slot is within the 250 ms reserved ahead.
    const c = createRateController({ state, quota: 100, clock });
    await clock.run(Array.from({ length: 8 }, () => c.acquire()));
    const takes = calls.filter((name) => name === 'take').length;
    expect(takes).toBe(state.maxBatch > 1 ? 1 : 8);
    const slots = (await store.slotTimes(account)).sort((a, b) => a - b);
    expect(slots).toHaveLength(8);
    // Spaced by the rate all the same: 10 ms apart.
    expect(slots.at(-1)! - slots[0]!).toBeGreaterThanOrEqual(70);
  });

  it('gives back the slots reserved before a throttle and spaces them at the cut rate', async () => {
    const account = newAccount();
    const state = store.open(account);
    const clock = store.clock();
    // Two calls a second and slots reserved up to 1.2 s ahead: three acquires get slots 0, 500 and
    // 1025 ms from now, and the throttle below comes 10 ms later, before the second one is due.
    const tuning: Partial<RateTuning> = { aheadMs: 1200 };
    const c = createRateController({ state, quota: 2, tuning, clock });
    const three = [c.acquire(), c.acquire(), c.acquire()];
    await three[0];
    await waitForSleepers(clock, 2);
    clock.advance(10);
    expect((await c.throttled()).kind).toBe('cut');
    const cut = await readLimiterState(state, 2, tuning, clock);
    await clock.run(three);
    const slots = (await store.slotTimes(account)).sort((a, b) => a - b);
    expect(slots).toHaveLength(3);
    // Reserved again at the cut rate: the two later calls are a cut spacing apart, not 500 ms.
    expect(slots[2]! - slots[1]!).toBeGreaterThanOrEqual(1000 / cut.allowedRate - 50);
    expect(slots[1]! - slots[0]!).toBeGreaterThan(1000);
  });

  it('widens the margin when the fleet was using its whole window alone', async () => {
    const state = store.open(newAccount());
    const clock = store.clock();
    const tuning: Partial<RateTuning> = { initialMarginMs: 500 };
    const c = createRateController({ state, quota: 10, tuning, clock });
    await clock.run(Array.from({ length: 10 }, () => c.acquire()));
    const before = await readLimiterState(state, 10, tuning, clock);
    expect((await c.throttled()).kind).toBe('margin');
    const after = await readLimiterState(state, 10, tuning, clock);
    expect(after.marginMs).toBeGreaterThan(before.marginMs);
    expect(after.allowedRate).toBeLessThan(before.allowedRate);
    expect(after.throttlesLastMinute).toBe(1);
  });

  it('answers throttles in quick succession with the rate, not the margin', async () => {
    const clock = store.clock();
    const tuning: Partial<RateTuning> = { holdMs: 0, initialMarginMs: 1000 };
    const c = createRateController({ state: store.open(newAccount()), quota: 10, tuning, clock });
    await clock.run(Array.from({ length: 10 }, () => c.acquire()));
    expect((await c.throttled()).kind).toBe('margin');
    expect((await c.throttled()).kind).toBe('cut');
  });

  it('cuts the rate to what got through when someone else uses the quota, holds, then climbs back', async () => {
    const state = store.open(newAccount());
    const clock = store.clock();
    const tuning: Partial<RateTuning> = { approachMs: 400, probe: 1, holdMs: 300 };
    const c = createRateController({ state, quota: 10, tuning, clock });
    // Six calls in the last second, well under the window: the rest of the quota is someone else's.
    for (let i = 0; i < 6; i++) await clock.run([c.acquire()]);
    expect((await c.throttled()).kind).toBe('cut');
    const cut = await readLimiterState(state, 10, tuning, clock);
    expect(cut.allowedRate).toBeLessThanOrEqual(6);
    // A throttle of a call sent before the cut changes nothing.
    clock.advance(100);
    expect((await c.throttled()).kind).toBe('none');
    expect((await readLimiterState(state, 10, tuning, clock)).allowedRate).toBeGreaterThanOrEqual(
      cut.allowedRate,
    );
    // No throttle for a while: back to the cut level, then above it, up to the quota and never beyond.
    const seen: number[] = [];
    for (let i = 0; i < 30; i++) {
      clock.advance(100);
      seen.push((await readLimiterState(state, 10, tuning, clock)).allowedRate);
    }
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(9.5);
    expect(Math.max(...seen)).toBeLessThanOrEqual(10);
    // It never went down while climbing.
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('shares one state between two controllers: a cut by one slows the other', async () => {
    const account = newAccount();
    const clock = store.clock();
    const [a, b] = [store.open(account), store.open(account)].map((state) =>
      createRateController({ state, quota: 10, clock }),
    );
    await clock.run([a!.acquire()]);
    clock.advance(10);
    await b!.throttled();
    const read = await readLimiterState(store.open(account), 10, {}, clock);
    // Nothing got through in the last second: the rate is cut by half, the most one throttle cuts.
    expect(read.allowedRate).toBeLessThanOrEqual(5);
    // b's cut spaces a's slots: two more slots from `a` are at least 1000/rate apart.
    await clock.run([a!.acquire()]);
    await clock.run([a!.acquire()]);
    const slots = (await store.slotTimes(account)).sort((x, y) => x - y);
    expect(slots[2]! - slots[1]!).toBeGreaterThanOrEqual(1000 / 5);
  });

  it('pauses the whole fleet on a storm of throttles, and for a retry hint', async () => {
    const state = store.open(newAccount());
    const clock = store.clock();
    const c = createRateController({ state, quota: 10, tuning: { stormThrottles: 3 }, clock });
    const kinds: string[] = [];
    for (let i = 0; i < 3; i++) kinds.push((await c.throttled()).kind);
    expect(kinds).toEqual(['cut', 'none', 'storm']);
    expect((await readLimiterState(state, 10, {}, clock)).pausedForMs).toBe(1000);

    const other = store.open(newAccount());
    const d = createRateController({ state: other, quota: 10, clock });
    expect((await d.throttled(5000)).pauseMs).toBe(5000);
    expect((await readLimiterState(other, 10, {}, clock)).pausedForMs).toBe(5000);
    const controller = new AbortController();
    const waiting = d.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow();
  });

  it('pauses for an unreachable endpoint with a growing pause, raises one alert after a while, clears it when reachable', async () => {
    const state = store.open(newAccount());
    const clock = store.clock();
    const tuning = { unreachablePauseMs: 50, unreachableMaxMs: 200, unreachableAlertMs: 150 };
    const c = createRateController({ state, quota: 10, tuning, clock });
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
    expect((await readLimiterState(state, 10, {}, clock)).unreachableForMs).toBeGreaterThan(0);
    expect(await c.reachable()).toBe(true);
    expect(await c.reachable()).toBe(false);
    expect((await readLimiterState(state, 10, {}, clock)).unreachableForMs).toBeNull();
  });

  it('reads a state nobody wrote yet as the caller quota, not stored, not active', async () => {
    const read = await readLimiterState(store.open(newAccount()), 10);
    expect(read).toMatchObject({
      quota: 10,
      quotaStored: false,
      throttlesLastMinute: 0,
      pausedForMs: 0,
      active: false,
    });
  });

  it('forgets what it learned and the quota stored with it', async () => {
    const account = newAccount();
    const state = store.open(account);
    const clock = store.clock();
    await claimQuota(state, 5);
    const c = createRateController({ state, quota: 5, clock });
    await clock.run([c.acquire()]);
    await c.throttled();
    expect(await readLimiterState(state, 10, {}, clock)).toMatchObject({ quotaStored: true, active: true });
    await state.forget();
    expect(await readLimiterState(state, 10, {}, clock)).toMatchObject({
      quota: 10,
      quotaStored: false,
      throttlesLastMinute: 0,
      active: false,
    });
    expect(await store.slotTimes(account)).toEqual([]);
  });

  describe('priorities across the fleet', () => {
    const t0 = 1_800_000_000_000;
    const tuning = tuningArgs(DEFAULT_TUNING);
    /** Take arguments at `ms` after t0 for a call of `priority` (none when undefined), two calls a second. */
    const at = (ms: number, priority?: number) => ({
      quota: 2,
      tuning,
      now: t0 + ms,
      ...(priority === undefined ? {} : { priority }),
    });
    /**
     * Two slots taken (t0 and t0 + 500), then a normal call (2) refused: the next slot is a window away,
     * t0 + 1025, reserved from t0 + 775 (250 ms ahead). It asks again then; its record holds to t0 + 875.
     */
    async function normalWaiting(): Promise<RateStateStore> {
      const state = store.open(newAccount());
      expect(await state.take(at(0), ['a'])).toMatchObject([{ granted: true, waitMs: 0 }]);
      expect(await state.take(at(300), ['b'])).toMatchObject([{ granted: true, waitMs: 200 }]);
      expect(await state.take(at(310, 2), ['normal'])).toEqual([{ granted: false, retryInMs: 465 }]);
      return state;
    }

    it('refuses a low call while a normal one waits, and gives it the slot once the normal call is served', async () => {
      const state = await normalWaiting();
      // The slot at t0 + 1025 is free to reserve, but a normal call waits for it: refused until its
      // record lapses (t0 + 875).
      expect(await state.take(at(800, 3), ['low'])).toEqual([{ granted: false, retryInMs: 75 }]);
      // The waiting low call does not hold the normal one back.
      expect(await state.take(at(810, 2), ['normal'])).toMatchObject([{ granted: true, waitMs: 215 }]);
      // Served, the normal call records nothing more; its record lapses and the low call takes the
      // next free slot, a spacing after the normal one's.
      expect(await state.take(at(875, 3), ['low'])).toEqual([{ granted: false, retryInMs: 400 }]);
      expect(await state.take(at(1275, 3), ['low'])).toMatchObject([{ granted: true, waitMs: 250 }]);
      expect((await store.slotTimes(newestAccount())).sort((x, y) => x - y)).toEqual([
        t0,
        t0 + 500,
        t0 + 1025,
        t0 + 1525,
      ]);
    });

    it('gives the slot to a low call once the record of a normal call that stopped asking lapsed', async () => {
      const state = await normalWaiting();
      expect(await state.take(at(800, 3), ['low'])).toEqual([{ granted: false, retryInMs: 75 }]);
      // The normal call did not come back (its job backs off): the low call takes the slot it left.
      expect(await state.take(at(875, 3), ['low'])).toMatchObject([{ granted: true, waitMs: 150 }]);
    });

    it('takes a call without a priority as the best (0), as BullMQ does', async () => {
      // Not held back by the waiting normal call, as a call of priority 0 or 1 is not.
      for (const priority of [undefined, 0, 1]) {
        const state = await normalWaiting();
        expect(await state.take(at(800, priority), ['first'])).toMatchObject([
          { granted: true, waitMs: 225 },
        ]);
      }
      // And, waiting, it holds back a call of priority 1.
      const state = store.open(newAccount());
      await state.take(at(0), ['a']);
      await state.take(at(300), ['b']);
      expect(await state.take(at(310), ['lookup'])).toEqual([{ granted: false, retryInMs: 465 }]);
      expect(await state.take(at(800, 1), ['high'])).toEqual([{ granted: false, retryInMs: 75 }]);
      await expect(state.take({ ...at(800), priority: 'low' } as never, ['x'])).rejects.toThrow(/priority/);
    });

    it("lets one process's normal calls go before another process's low calls", async () => {
      const account = newAccount();
      const clock = store.clock();
      const [lows, normals] = [store.open(account), store.open(account)].map((state) =>
        createRateController({ state, quota: 2, clock }),
      );
      // The window is full: every call below is refused at first and waits.
      await clock.run([lows!.acquire(), lows!.acquire()]);
      const went: Array<{ priority: number; at: number }> = [];
      const call = (c: RateController, priority: number) =>
        c.acquire(undefined, priority).then(() => went.push({ priority, at: clock.now() }));
      await clock.run([
        ...Array.from({ length: 3 }, () => call(lows!, 3)),
        ...Array.from({ length: 3 }, () => call(normals!, 2)),
      ]);
      const times = (p: number) => went.filter((w) => w.priority === p).map((w) => w.at);
      expect(times(2)).toHaveLength(3);
      expect(times(3)).toHaveLength(3);
      expect(Math.max(...times(2))).toBeLessThan(Math.min(...times(3)));
      expect(mostInAnyWindow(await store.slotTimes(account), 1000)).toBeLessThanOrEqual(2);
    });
  });

  it('fails an operation called without one of its named arguments, naming it', async () => {
    const state = store.open(newAccount());
    await expect(state.take({ quota: 10, tuning: {} } as never, [randomUUID()])).rejects.toThrow(/aheadMs/);
  });

  describe("the fleet's quota", () => {
    it('is stored by the first process, compared by the next, and replaced only on purpose', async () => {
      const state = store.open(newAccount());
      expect(await claimQuota(state, 10)).toEqual({ outcome: 'stored', quota: 10, previous: null });
      expect(await claimQuota(state, 10)).toEqual({ outcome: 'same', quota: 10, previous: 10 });
      expect(await claimQuota(state, 200)).toEqual({ outcome: 'different', quota: 10, previous: 10 });
      expect(await readLimiterState(state, 200)).toMatchObject({
        quota: 10,
        quotaStored: true,
        active: false,
      });
      expect(await claimQuota(state, 200, { replace: true })).toEqual({
        outcome: 'replaced',
        quota: 200,
        previous: 10,
      });
      expect((await readLimiterState(state, 10)).quota).toBe(200);
    });

    it('is the quota every controller of the account keeps to, whatever its own', async () => {
      const account = newAccount();
      const clock = store.clock();
      await claimQuota(store.open(account), 2);
      // A process that thinks the quota is 100: the stored 2 decides.
      const c = createRateController({ state: store.open(account), quota: 100, clock });
      await clock.run(Array.from({ length: 6 }, () => c.acquire()));
      expect(mostInAnyWindow(await store.slotTimes(account), 1000)).toBeLessThanOrEqual(2);
    });
  });
});

describe("the rate controller on PostgreSQL, on its server's clock", () => {
  beforeAll(() => postgres.setup());
  afterAll(() => postgres.teardown());
  afterEach(() => postgres.cleanup());

  it('never exceeds the strict window with two pools of one account, one through PgBouncer in transaction mode', async () => {
    const bouncer = await startPgBouncer();
    try {
      const account = `test-${randomUUID()}`;
      const direct = postgres.open(account);
      const pooled = postgres.openAt(bouncer.url(postgres.databaseUrl()), account);
      expect(direct.maxBatch).toBeGreaterThan(1);
      // Each process has more calls waiting than its share of the quota, so the two contend for slots.
      const controllers = [direct, pooled].map((state) => createRateController({ state, quota: 20 }));
      await Promise.all(controllers.flatMap((c) => Array.from({ length: 30 }, () => c.acquire())));
      const slots = await postgres.slotTimes(account);
      expect(slots).toHaveLength(60);
      expect(mostInAnyWindow(slots, 1000)).toBeLessThanOrEqual(20);
    } finally {
      await postgres.cleanup();
      await bouncer.stop();
    }
  }, 60_000);
});

describe('the two stores', () => {
  const redis = stores[0]!;
  beforeAll(() => postgres.setup());
  afterAll(() => postgres.teardown());
  afterEach(() => Promise.all([redis.cleanup(), postgres.cleanup()]));

  it('answer one sequence of operations alike, reply for reply, and record the same slots', async () => {
    const account = `test-${randomUUID()}`;
    const tuning = tuningArgs({ ...DEFAULT_TUNING, holdMs: 300 });
    /**
     * The sequence: a fleet at R = 10 on a test clock, with calls of several priorities, throttles, a
     * storm, a hint, an outage.
     */
    async function play(state: RateStateStore): Promise<unknown[]> {
      const replies: unknown[] = [];
      const t0 = 1_800_000_000_000;
      const base = (i: number) => ({ quota: 10, tuning, now: t0 + i * 37 });
      replies.push(await state.claimQuota({ quota: 10, replace: false, stateTtlMs: tuning.stateTtlMs }));
      let last: { member: string; reservedAt: number } | undefined;
      for (let i = 0; i < 120; i++) {
        const args = base(i);
        const members = [`m${i}a`, `m${i}b`, `m${i}c`];
        // Calls of no priority, then of 1 to 3 in turn: some wait behind better ones.
        const priority = i % 4 === 0 ? {} : { priority: i % 4 };
        const takes = await state.take({ ...args, ...priority }, members);
        replies.push(takes);
        const granted = takes.findIndex((t) => t.granted);
        const first = takes[granted];
        if (first?.granted) last = { member: members[granted]!, reservedAt: first.reservedAt };
        if (i % 3 === 1 && last) replies.push(await state.confirm({ ...args, ...last }));
        if (i === 40 || i === 52 || i === 53 || (i >= 60 && i <= 64) || i === 75)
          replies.push(
            await state.throttled({
              ...args,
              member: `t${i}`,
              retryAfterMs: 0,
              holdMs: 300,
              stormThrottles: 4,
              stormPauseMs: 1000,
              stormMaxPauseMs: 30_000,
            }),
          );
        if (i === 90)
          replies.push(
            await state.throttled({
              ...args,
              member: 'hint',
              retryAfterMs: 2000,
              holdMs: 300,
              stormPauseMs: 1000,
              stormMaxPauseMs: 30_000,
            }),
          );
        if (i >= 100 && i <= 108 && i % 2 === 0)
          replies.push(
            await state.unreachable({ ...args, firstPauseMs: 50, maxPauseMs: 200, alertAfterMs: 150 }),
          );
        if (i === 110) replies.push(await state.reachable());
        if (i % 10 === 9) replies.push(await state.read(args));
      }
      return replies;
    }
    const onRedis = await play(redis.open(account));
    const onPostgres = await play(postgres.open(account));
    expect(firstDifference(onPostgres, onRedis)).toBeUndefined();
    const kinds = JSON.stringify(onRedis);
    // The sequence went through every branch it means to.
    for (const verdict of ['margin', 'cut', 'none', 'storm'])
      expect(kinds).toContain(`"verdict":"${verdict}"`);
    expect(kinds).toContain('"granted":false');
    expect(kinds).toContain('"confirmed":false');
    expect(kinds).toContain('"raiseAlert":true');
    const slots = async (store: StoreFixture) => (await store.slotTimes(account)).sort((a, b) => a - b);
    expect(firstDifference(await slots(postgres), await slots(redis))).toBeUndefined();
  });
});

describe('script replies', () => {
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
});

/**
 * Where two replies (or lists of them) differ, undefined when they are alike. Redis keeps each field of
 * its state as text of 14 significant digits (0.1 ms at today's times), PostgreSQL as double
 * precision: a time floored or ceiled to a whole ms may come out 1 ms apart, and a rate a few units in
 * the 14th digit apart. Anything else (a verdict, a refusal, a flag) must be the same.
 */
function firstDifference(a: unknown, b: unknown, path = 'reply'): string | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    const wholeMs = (Number.isInteger(a) && Number.isInteger(b)) || Math.abs(b) >= 1e9;
    const alike = wholeMs ? Math.abs(a - b) <= 1 : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    return alike ? undefined : `${path}: ${a} against ${b}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: ${a.length} items against ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : `${path}: ${JSON.stringify(a)} against ${JSON.stringify(b)}`;
}

/** Waits (on real time, for the store's answers) until `n` controller calls sleep on `clock`. */
async function waitForSleepers(clock: TestClock, n: number): Promise<void> {
  for (let i = 0; i < 5000 && clock.sleepers() < n; i++) await new Promise((r) => setTimeout(r, 1));
  expect(clock.sleepers()).toBe(n);
}
