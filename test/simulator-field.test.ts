/**
 * The simulator's model of the field: a delay on each request's way in, and another client using
 * part of the same AccessKey's quota. Calls go through the project's own CAMS client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCamsClient } from '../src/cams/cams-client.js';
import type { CamsClient } from '../src/cams/cams-client.js';
import { Secret } from '../src/config.js';
import { parseBackground, parseJitter } from '../src/commands/simulator.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/simulator.js';

const AK = 'LTAItestsimulatorfield1';
const SECRET = 'test-secret-0123456789abcdefghij';

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

function client(sim: Simulator): CamsClient {
  return createCamsClient({
    credentials: { accessKeyId: AK, accessKeySecret: new Secret(SECRET) },
    endpoint: sim.endpoint,
    protocol: 'http',
    regionId: 'ap-southeast-1',
    connectTimeoutMs: 5000,
    readTimeoutMs: 10_000,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('simulator: the field', () => {
  it('delays each request on its way in by the inbound delay, before it is counted', async () => {
    const sim = await simulator({ inboundDelay: { minMs: 150, maxMs: 150 } });
    const cams = client(sim);
    const started = performance.now();
    await cams.queryPhoneBusinessProfile({ custSpaceId: 'S1', phoneNumber: '8613800001234' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    sim.setInboundDelay(undefined);
    expect(sim.counters()).toMatchObject({ calls: 1, ok: 1 });
  });

  it('lets another client take the quota: its calls fill the window and ours are throttled until it stops', async () => {
    // The other client alone asks for forty times the quota, so the window is full while it runs
    // (a slot that frees is taken again within a few ms).
    const sim = await simulator({ rate: 5, background: { rate: 200 } });
    const cams = client(sim);
    await sleep(1200);
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const err = await cams
        .queryPhoneBusinessProfile({ custSpaceId: 'S1', phoneNumber: '8613800001234' })
        .then(() => 'OK')
        .catch((e: { code?: string }) => e.code ?? 'other');
      codes.push(err);
    }
    expect(codes).toContain('System.LimitControl');
    const during = sim.counters();
    expect(during.background.running).toBe(true);
    expect(during.background.ok).toBeGreaterThan(0);
    expect(during.background.throttled).toBeGreaterThan(0);
    expect(during.maxCallsInAnyWindow).toBe(5);
    expect(during.calls).toBe(3);
    expect(during.throttled).toBe(codes.filter((c) => c === 'System.LimitControl').length);

    sim.setBackground(undefined);
    expect(sim.counters().background.running).toBe(false);
    await sleep(1100);
    await cams.queryPhoneBusinessProfile({ custSpaceId: 'S1', phoneNumber: '8613800001234' });
    const after = sim.counters();
    expect(after.calls).toBe(4);
    expect(after.ok).toBe(during.ok + 1);
    expect(after.admittedPerSecond.reduce((a, b) => a + b, 0)).toBe(after.ok);
  });

  it('runs the other client only for its period', async () => {
    const sim = await simulator({ background: { rate: 20, durationMs: 300 } });
    await sleep(800);
    const c = sim.counters().background;
    expect(c.running).toBe(false);
    expect(c.calls).toBeGreaterThan(0);
    expect(c.calls).toBeLessThanOrEqual(7);
  });

  it('reads the command-line forms and refuses bad ones', () => {
    expect(parseJitter('80')).toEqual({ minMs: 0, maxMs: 80 });
    expect(parseJitter('20-80')).toEqual({ minMs: 20, maxMs: 80 });
    expect(() => parseJitter('80-20')).toThrow(/--jitter/);
    expect(() => parseJitter('x')).toThrow(/--jitter/);
    expect(parseBackground('4')).toEqual({ rate: 4, durationMs: undefined, startAfterMs: undefined });
    expect(parseBackground('4:30:10')).toEqual({ rate: 4, durationMs: 30_000, startAfterMs: 10_000 });
    expect(() => parseBackground('0')).toThrow(/--background/);
    expect(() => parseBackground('4:x')).toThrow(/--background/);
  });
});
