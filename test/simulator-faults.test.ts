/**
 * Fault rules: their string form, their determinism, and what the official SDK sees when they fire.
 */
import { describe, it, expect, afterEach } from 'vitest';
import CamsModule, * as $Cams from '@alicloud/cams20200606';
import { Config as OpenApiConfig } from '@alicloud/openapi-client';
import { RuntimeOptions } from '@alicloud/tea-util';
import { FaultInjector, parseFaultRule } from '../src/simulator/faults.js';
import type { FaultRule } from '../src/simulator/faults.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/simulator.js';
import { waitFor } from './helpers/processes.js';

function cjsDefault<T>(mod: { default: T }): T {
  return (mod as { default?: T }).default ?? (mod as unknown as T);
}
const Cams = cjsDefault(CamsModule);

const AK = 'LTAIfaults00000000001';
const SECRET = 'faults-secret-abcdefghij01234567';

let sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

async function simulator(options: Partial<SimulatorOptions>): Promise<Simulator> {
  const sim = await startSimulator({ accessKeyId: AK, accessKeySecret: SECRET, rate: 1000, ...options });
  sims.push(sim);
  return sim;
}

interface Outcome {
  status: number;
  code: string;
  message: string;
}

async function query(sim: Simulator, phoneNumber: string, readTimeout?: number): Promise<Outcome> {
  const client = new Cams(
    new OpenApiConfig({ accessKeyId: AK, accessKeySecret: SECRET, endpoint: sim.endpoint, protocol: 'http' }),
  );
  const runtime = new RuntimeOptions(readTimeout === undefined ? {} : { readTimeout, keepAlive: false });
  try {
    const res = await client.queryPhoneBusinessProfileWithOptions(
      new $Cams.QueryPhoneBusinessProfileRequest({ custSpaceId: 'space', phoneNumber }),
      runtime,
    );
    return { status: res.statusCode ?? 0, code: res.body?.code ?? '', message: res.body?.message ?? '' };
  } catch (err) {
    const e = err as { code?: string; data?: { statusCode?: number }; message?: string };
    return { status: e.data?.statusCode ?? 0, code: e.code ?? '', message: e.message ?? '' };
  }
}

describe('fault rule strings', () => {
  it('reads an error code with a phone-number pattern', () => {
    const rule = parseFaultRule('Unknown.ResourceOwnerId@^8613900000');
    expect(rule.answer).toEqual({ kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' });
    expect(rule.match).toBeInstanceOf(RegExp);
    expect((rule.match as RegExp).source).toBe('^8613900000');
  });

  it('reads percent, count, seed and the HTTP 200 form in any order before the pattern', () => {
    expect(parseFaultRule('Ram.PermissionDeny:200#7x3/number%12.5@1$')).toMatchObject({
      answer: { kind: 'error', code: 'Ram.PermissionDeny', form: 'http200' },
      probability: 0.125,
      times: 3,
      timesPer: 'number',
      seed: 7,
    });
    expect(parseFaultRule('http503%5')).toMatchObject({
      answer: { kind: 'http', status: 503 },
      probability: 0.05,
    });
    expect(parseFaultRule('slow:3000@^55')).toMatchObject({ answer: { kind: 'slow', delayMs: 3000 } });
    expect(parseFaultRule('hang')).toEqual({ answer: { kind: 'hang' } });
  });

  it('rejects what it cannot read with a message naming the problem', () => {
    expect(() => parseFaultRule('Nope.Code')).toThrow(/must start with/);
    expect(() => parseFaultRule('http504')).toThrow(/must start with/);
    expect(() => parseFaultRule('http503%150')).toThrow(/probability/);
    expect(() => parseFaultRule('http503@(')).toThrow(/not a valid regular expression/);
    expect(() => parseFaultRule('http503?')).toThrow(/expected %PERCENT/);
  });
});

describe('fault injector', () => {
  const numbers = Array.from({ length: 200 }, (_, i) => `86138${String(i).padStart(8, '0')}`);

  it('draws the same calls for the same seed', () => {
    const rule: FaultRule = { answer: { kind: 'http', status: 503 }, probability: 0.2, seed: 42 };
    const hits = (inj: FaultInjector) => numbers.filter((n) => inj.pick(n) !== undefined);
    const a = hits(new FaultInjector([rule]));
    expect(a).toEqual(hits(new FaultInjector([rule])));
    expect(a.length).toBeGreaterThan(20);
    expect(a.length).toBeLessThan(60);
    expect(a).not.toEqual(hits(new FaultInjector([{ ...rule, seed: 43 }])));
  });

  it('fires only the first N times, for the rule or for each number', () => {
    const rule = (timesPer: 'rule' | 'number'): FaultRule => ({
      answer: { kind: 'hang' },
      times: 2,
      timesPer,
    });
    const whole = new FaultInjector([rule('rule')]);
    expect(['1', '2', '1', '2'].map((n) => whole.pick(n) !== undefined)).toEqual([true, true, false, false]);
    const each = new FaultInjector([rule('number')]);
    expect(['1', '2', '1', '2', '1'].map((n) => each.pick(n) !== undefined)).toEqual([
      true,
      true,
      true,
      true,
      false,
    ]);
  });
});

describe('faults through the official SDK', () => {
  it('answers matching numbers with the error and others with their profile', async () => {
    const sim = await simulator({ faults: [parseFaultRule('Unknown.ResourceOwnerId@^8613900000')] });
    expect(await query(sim, '8613900000123')).toMatchObject({ status: 400, code: 'Unknown.ResourceOwnerId' });
    expect(await query(sim, '8613800001234')).toMatchObject({ status: 200, code: 'OK' });
    expect(sim.counters()).toMatchObject({ calls: 2, ok: 1, errors: 1, throttled: 0 });
  });

  it('answers the HTTP 200 form with the code and message of the reference', async () => {
    const sim = await simulator({
      faults: [{ answer: { kind: 'error', code: 'Product.Unsubscript', form: 'http200' } }],
    });
    expect(await query(sim, '8613800001234')).toEqual({
      status: 200,
      code: 'Product.Unsubscript',
      message: 'You have not subscribed to the specified product.',
    });
  });

  it('counts an injected System.LimitControl as a throttle, not as an admitted call', async () => {
    const sim = await simulator({ faults: [parseFaultRule('System.LimitControlx1')] });
    expect((await query(sim, '8613800001234')).code).toBe('System.LimitControl');
    expect((await query(sim, '8613800001234')).code).toBe('OK');
    expect(sim.counters()).toMatchObject({
      throttled: 1,
      ok: 1,
      maxCallsInAnyWindow: 1,
      maxArrivalsInAnyWindow: 2,
    });
  });

  it('fails the seeded share of calls, the same ones on every run', async () => {
    const numbers = Array.from({ length: 40 }, (_, i) => `86138${String(i).padStart(8, '0')}`);
    const run = async (): Promise<string[]> => {
      const sim = await simulator({ faults: [parseFaultRule('http503%30#7')] });
      const failed: string[] = [];
      for (const n of numbers) if ((await query(sim, n)).status === 503) failed.push(n);
      expect(sim.counters().errors).toBe(failed.length);
      return failed;
    };
    const first = await run();
    expect(first.length).toBeGreaterThan(3);
    expect(first.length).toBeLessThan(25);
    expect(await run()).toEqual(first);
  });

  it('answers 503 with ServiceUnavailable and lets a number through after its first N failures', async () => {
    const sim = await simulator({ faults: [parseFaultRule('http503x2/number')] });
    expect(await query(sim, '8613800001234')).toMatchObject({ status: 503, code: 'ServiceUnavailable' });
    expect(await query(sim, '8613800001234')).toMatchObject({ status: 503 });
    expect(await query(sim, '8613800001234')).toMatchObject({ status: 200, code: 'OK' });
    expect(await query(sim, '8613800009999')).toMatchObject({ status: 503 });
    expect(sim.counters()).toMatchObject({ errors: 3, ok: 1, okByNumber: { '8613800001234': 1 } });
  });

  it('holds the answer of a slow call for its delay, and only for the numbers it matches', async () => {
    const sim = await simulator({ faults: [parseFaultRule('slow:600000@1234$')] });
    let held = true;
    const slow = query(sim, '8613800001234').finally(() => (held = false));
    await waitFor('the slow call to arrive', 10_000, () => sim.counters().calls >= 1);
    expect((await query(sim, '8613800005678')).code).toBe('OK');
    expect(held).toBe(true);
    await sim.close();
    expect((await slow).code).not.toBe('OK');
  });

  it('answers a slow call once its delay is over', async () => {
    const sim = await simulator({ faults: [parseFaultRule('slow:300@1234$')] });
    expect(await query(sim, '8613800001234')).toMatchObject({ status: 200, code: 'OK' });
    expect(sim.counters()).toMatchObject({ ok: 1, errors: 0 });
  });

  it('hangs until the client times out, and still closes promptly', async () => {
    const sim = await simulator({ faults: [parseFaultRule('hang@^86139')] });
    const out = await query(sim, '8613900000001', 300);
    expect(out.code).not.toBe('OK');
    expect(out.message).toMatch(/timeout/i);
    expect(sim.counters()).toMatchObject({ hung: 1, ok: 0 });

    // A hung call whose client would wait far longer: close() must end it, and return promptly.
    // (Ended by close(), not by the client's 30 s timeout: the outcome is not a timeout.)
    const hung = query(sim, '8613900000002', 30_000);
    await waitFor('the second call to hang', 10_000, () => sim.counters().hung === 2);
    await sim.close();
    await sim.close();
    const outcome = await hung;
    expect(outcome.code).not.toBe('OK');
    expect(outcome.message).not.toMatch(/timeout/i);
  });

  it('switches fault rules at run time', async () => {
    const sim = await simulator({});
    expect((await query(sim, '8613800001234')).code).toBe('OK');
    sim.setFaults([parseFaultRule('Ram.PermissionDeny')]);
    expect((await query(sim, '8613800001234')).code).toBe('Ram.PermissionDeny');
    sim.setFaults([]);
    expect((await query(sim, '8613800001234')).code).toBe('OK');
  });
});
