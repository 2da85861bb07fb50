/**
 * The simulator seen through the official generated SDK (`@alicloud/cams20200606`) and the generic
 * `@alicloud/openapi-client`: an independent client that signs every request itself.
 */
import { describe, it, expect, afterEach } from 'vitest';
import CamsModule, * as $Cams from '@alicloud/cams20200606';
import OpenApiModule, { Config as OpenApiConfig, OpenApiRequest, Params } from '@alicloud/openapi-client';
import { RuntimeOptions } from '@alicloud/tea-util';
import { profileFor } from '../src/simulator/profiles.js';
import { SlidingWindow } from '../src/simulator/sliding-window.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/simulator.js';

// CommonJS packages: Node hands over `module.exports`, vitest the class itself.
function cjsDefault<T>(mod: { default: T }): T {
  return (mod as { default?: T }).default ?? (mod as unknown as T);
}
const Cams = cjsDefault(CamsModule);
const OpenApiClient = cjsDefault(OpenApiModule);

const AK = 'LTAItestsimulator0001';
const SECRET = 'test-secret-0123456789abcdefghij';
const SPACE = '2934839388494001';

let sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

async function simulator(options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ accessKeyId: AK, accessKeySecret: SECRET, ...options });
  sims.push(sim);
  return sim;
}

function sdk(sim: Simulator, keyId = AK, secret = SECRET): InstanceType<typeof Cams> {
  return new Cams(
    new OpenApiConfig({
      accessKeyId: keyId,
      accessKeySecret: secret,
      endpoint: sim.endpoint,
      protocol: 'http',
    }),
  );
}

interface Outcome {
  status: number;
  code: string;
  body?: $Cams.QueryPhoneBusinessProfileResponseBody;
  message?: string;
}

/** One SDK call; a thrown SDK error becomes its HTTP status and Code. */
async function query(
  client: InstanceType<typeof Cams>,
  phoneNumber: string,
  runtime = new RuntimeOptions({}),
): Promise<Outcome> {
  try {
    const res = await client.queryPhoneBusinessProfileWithOptions(
      new $Cams.QueryPhoneBusinessProfileRequest({ custSpaceId: SPACE, phoneNumber }),
      runtime,
    );
    return { status: res.statusCode ?? 0, code: res.body?.code ?? '', body: res.body };
  } catch (err) {
    const e = err as { code?: string; statusCode?: number; data?: { statusCode?: number }; message?: string };
    return { status: e.data?.statusCode ?? e.statusCode ?? 0, code: e.code ?? '', message: e.message ?? '' };
  }
}

/** A call through the generic client with any action and version, the way our own client sends it. */
async function callApi(
  sim: Simulator,
  action: string,
  version: string,
): Promise<{ status: number; code: string; raw?: unknown }> {
  const client = new OpenApiClient(
    new OpenApiConfig({ accessKeyId: AK, accessKeySecret: SECRET, endpoint: sim.endpoint, protocol: 'http' }),
  );
  const params = new Params({
    action,
    version,
    protocol: 'HTTP',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'json',
    bodyType: 'json',
  });
  try {
    const res = await client.callApi(
      params,
      new OpenApiRequest({ query: { CustSpaceId: SPACE, PhoneNumber: '8613800001234' } }),
      new RuntimeOptions({}),
    );
    const body = res.body as { Code?: string };
    return { status: Number(res.statusCode), code: body.Code ?? '', raw: body };
  } catch (err) {
    const e = err as { code?: string; data?: { statusCode?: number } };
    return { status: e.data?.statusCode ?? 0, code: e.code ?? '' };
  }
}

describe('simulator through the official SDK', () => {
  it('answers a correctly signed call with the profile of the number, trailing newlines included', async () => {
    const sim = await simulator();
    const out = await query(sdk(sim), '8613800001234');
    const expected = profileFor('8613800001234');
    expect(out).toMatchObject({ status: 200, code: 'OK' });
    expect(out.body?.message).toBe('None');
    expect(out.body?.data?.vertical).toBe(expected.Vertical);
    expect(out.body?.data?.vertical?.endsWith('\n')).toBe(true);
    expect(out.body?.data?.description).toBe(expected.Description);
    expect(out.body?.data?.address).toBe(expected.Address);
    expect(out.body?.data?.email).toBe(expected.Email);
    expect(out.body?.data?.websites).toEqual(expected.Websites);
    expect(out.body?.requestId).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    expect(sim.counters()).toMatchObject({
      calls: 1,
      ok: 1,
      rejected: 0,
      okByNumber: { '8613800001234': 1 },
    });
  });

  it('gives different numbers different, stable profiles', () => {
    const verticals = new Set(
      Array.from({ length: 60 }, (_, i) => profileFor(`86138000${String(i).padStart(5, '0')}`).Vertical),
    );
    expect(verticals.size).toBeGreaterThan(4);
    expect(profileFor('8613800001234')).toEqual(profileFor('8613800001234'));
    expect(profileFor('8613800001234')).not.toEqual(profileFor('8613800001235'));
  });

  it('refuses a wrong secret with SignatureDoesNotMatch and counts it as rejected', async () => {
    const sim = await simulator();
    const out = await query(sdk(sim, AK, 'not-the-secret'), '8613800001234');
    expect(out).toMatchObject({ status: 400, code: 'SignatureDoesNotMatch' });
    expect(sim.counters()).toMatchObject({ calls: 0, ok: 0, rejected: 1 });
  });

  it('refuses an unknown AccessKey id with InvalidAccessKeyId.NotFound', async () => {
    const sim = await simulator();
    const out = await query(sdk(sim, 'LTAIunknown', SECRET), '8613800001234');
    expect(out).toMatchObject({ status: 404, code: 'InvalidAccessKeyId.NotFound' });
    expect(sim.counters()).toMatchObject({ calls: 0, rejected: 1 });
  });

  it('accepts the JSON-body style of the generic client and refuses another action or version', async () => {
    const sim = await simulator();
    const ok = await callApi(sim, 'QueryPhoneBusinessProfile', '2020-06-06');
    expect(ok).toMatchObject({ status: 200, code: 'OK', raw: { Success: true, AccessDeniedDetail: 'None' } });
    expect(ok.raw).toMatchObject({ Data: profileFor('8613800001234') });
    expect(await callApi(sim, 'QueryWabaBusinessInfo', '2020-06-06')).toEqual({
      status: 404,
      code: 'InvalidAction.NotFound',
    });
    expect(await callApi(sim, 'QueryPhoneBusinessProfile', '2019-01-01')).toEqual({
      status: 400,
      code: 'InvalidVersion',
    });
    expect(sim.counters()).toMatchObject({ calls: 1, ok: 1, rejected: 2 });
  });
});

describe('simulator rate limit', () => {
  const numbers = Array.from({ length: 25 }, (_, i) => `86138000${String(i).padStart(5, '0')}`);
  // The limiter's clock stands still unless a test moves it: a burst is one instant however long a
  // busy machine takes to send it.
  let now = 0;
  const clock = () => now;

  it('admits exactly rate calls out of 25 concurrent ones and throttles the rest with HTTP 400', async () => {
    const sim = await simulator({ rate: 10, clock });
    const client = sdk(sim);
    const outs = await Promise.all(numbers.map((n) => query(client, n)));
    expect(outs.filter((o) => o.code === 'OK')).toHaveLength(10);
    const throttled = outs.filter((o) => o.code === 'System.LimitControl');
    expect(throttled).toHaveLength(15);
    expect(throttled.every((o) => o.status === 400)).toBe(true);
    const c = sim.counters();
    expect(c).toMatchObject({ calls: 25, ok: 10, throttled: 15, errors: 0, rejected: 0 });
    expect(c.maxCallsInAnyWindow).toBe(10);
    expect(c.maxArrivalsInAnyWindow).toBe(25);
    expect(Object.values(c.okByNumber).every((n) => n === 1)).toBe(true);
  });

  it('answers throttles as HTTP 200 with Success false in the http200 form', async () => {
    const sim = await simulator({ rate: 10, throttleForm: 'http200', clock });
    const outs = await Promise.all(numbers.map((n) => query(sdk(sim), n)));
    const throttled = outs.filter((o) => o.code === 'System.LimitControl');
    expect(throttled).toHaveLength(15);
    expect(throttled.every((o) => o.status === 200)).toBe(true);
    expect(throttled[0]?.body?.message).toBe('The system is under flow control.');
    // The SDK's response model has no Success field: read the raw body for it.
    expect(await callApi(sim, 'QueryPhoneBusinessProfile', '2020-06-06')).toMatchObject({
      status: 200,
      code: 'System.LimitControl',
      raw: { Success: false, Message: 'The system is under flow control.' },
    });
  });

  it('alternates the two throttle forms in the mixed form', async () => {
    const sim = await simulator({ rate: 10, throttleForm: 'mixed', clock });
    const outs = await Promise.all(numbers.map((n) => query(sdk(sim), n)));
    const throttled = outs.filter((o) => o.code === 'System.LimitControl');
    expect(throttled.filter((o) => o.status === 400)).toHaveLength(8);
    expect(throttled.filter((o) => o.status === 200)).toHaveLength(7);
  });

  it('admits calls again once the admitted ones leave the one-second window', async () => {
    const sim = await simulator({ rate: 5, clock });
    const client = sdk(sim);
    const first = await Promise.all(numbers.slice(0, 8).map((n) => query(client, n)));
    expect(first.filter((o) => o.code === 'OK')).toHaveLength(5);
    now += 999;
    expect((await query(client, numbers[20] ?? '')).code).toBe('System.LimitControl');
    now += 1;
    const second = await Promise.all(numbers.slice(8, 16).map((n) => query(client, n)));
    expect(second.filter((o) => o.code === 'OK')).toHaveLength(5);
    expect(sim.counters()).toMatchObject({ ok: 10, throttled: 7, maxCallsInAnyWindow: 5 });
  });

  it('forgets counters on reset but keeps answering', async () => {
    const sim = await simulator();
    await query(sdk(sim), '8613800001234');
    sim.resetCounters();
    expect(sim.counters()).toMatchObject({ calls: 0, ok: 0, maxCallsInAnyWindow: 0, okByNumber: {} });
    expect((await query(sdk(sim), '8613800001234')).code).toBe('OK');
    expect(sim.counters().okByNumber).toEqual({ '8613800001234': 1 });
  });
});

describe('the sliding window', () => {
  it('counts the times in (now - 1000, now], also when a time comes after a later one', () => {
    const w = new SlidingWindow();
    expect([0, 400, 999].map((t) => w.add(t))).toEqual([1, 2, 3]);
    expect(w.count(1000)).toBe(2); // 0 has left: strict, (0, 1000]
    // A call that arrived at 700 but was counted after the one at 999 takes its place in order.
    expect(w.add(700)).toBe(3); // 0, 400 and 700 in (-300, 700]
    expect(w.count(999)).toBe(4);
    expect(w.count(1500)).toBe(2); // 700 and 999
    expect(w.count(2000)).toBe(0);
  });
});

describe('the counters endpoint', () => {
  it('serves the same counters over HTTP for a simulator in another process', async () => {
    const sim = await simulator({ rate: 2 });
    const client = sdk(sim);
    for (let i = 0; i < 3; i++) await query(client, '8613800001234');
    const res = await fetch(`http://${sim.endpoint}/_simulator/counters`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual(JSON.parse(JSON.stringify(sim.counters())));
    expect(body).toMatchObject({ calls: 3, ok: 2, throttled: 1, okByNumber: { '8613800001234': 2 } });
  });
});
