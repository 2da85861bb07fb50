/**
 * Metrics and logs of a fleet: two `cams-enrich worker` processes publish their counters to Redis,
 * the dashboard's reader adds them up, and the sum survives the processes stopping. Each worker logs
 * for people when it starts, when a run finishes, when the queue pauses and resumes, and when it stops.
 */
import { Registry, Counter } from 'prom-client';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { metricValue } from '../src/dashboard/metrics.js';
import { readFleetMetrics, startMetricsPublisher } from '../src/metrics/fleet-metrics.js';
import { METRIC } from '../src/metrics/worker-metrics.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import type { CliProcess } from './helpers/processes.js';
import { assertBuilt, killAll, startWorkerProcess, waitFor } from './helpers/processes.js';

let p: Pipeline | undefined;
let workers: CliProcess[] = [];

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  workers = [];
  await p?.close();
  p = undefined;
});

describe('fleet-wide metrics', () => {
  it('keep every publisher live when the reader and the publishers disagree on the time', async () => {
    p = await startPipeline();
    const registry = new Registry();
    new Counter({ name: 'cams_test_total', help: 'a test counter', registers: [registry] }).inc(3);
    const keyBase = p.queue.toKey('cams-metrics');
    const publisher = startMetricsPublisher({
      redis: p.redis,
      keyBase,
      registry,
      log: p.log,
      intervalMs: 60_000,
    });
    try {
      await publisher.publish();
      // The reader's machine 30 s ahead, then 30 s behind: only the Redis server's clock counts.
      vi.useFakeTimers({ toFake: ['Date'] });
      for (const offset of [30_000, -30_000]) {
        vi.setSystemTime(new Date(Date.now() + offset));
        const fleet = await readFleetMetrics(p.redis, keyBase);
        expect(fleet.processes).toBe(1);
        expect((await fleet.registry.getSingleMetric('cams_test_total')?.get())?.values[0]?.value).toBe(3);
        vi.setSystemTime(new Date(Date.now() - offset));
      }
    } finally {
      vi.useRealTimers();
      await publisher.close();
    }
  });

  it('adds up the counters of two worker processes and keeps them when both stop', async () => {
    p = await startPipeline({ rate: 20 });
    const pipeline = p;
    const numbers = Array.from({ length: 100 }, (_, i) => `4479${String(12_000_000 + i * 41).slice(-8)}`);
    const file = await p.csv('fleet.csv', 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n');
    const env = { LOG_LEVEL: 'info', LOG_FORMAT: 'json' };
    workers = [startWorkerProcess(p, { rate: 20, env }), startWorkerProcess(p, { rate: 20, env })];
    // Both watch the queue's runs before the run exists (a worker says "started" once it does), so
    // both see it finish however slowly one of them starts.
    const running = workers;
    await waitFor('both workers started', 60_000, () =>
      running.every((w) => w.stderr().includes('"msg":"worker started"')),
    );
    const runId = await p.importFile(file);
    await p.waitFinished(runId, 60_000);
    const key = p.queue.toKey('cams-metrics');
    const fleet = () => readFleetMetrics(pipeline.redis, key);
    const okCalls = async () => {
      const f = await fleet();
      const calls = await f.registry.getSingleMetric(METRIC.calls)?.get();
      return { processes: f.processes, ok: calls?.values.find((v) => v.labels.code === 'OK')?.value };
    };

    const live = await waitFor('live metrics', 20_000, async () => {
      const v = await okCalls();
      return v.processes === 2 && v.ok === 100 && v;
    });
    expect(live).toEqual({ processes: 2, ok: 100 });
    const json = JSON.stringify(await (await fleet()).registry.getMetricsAsJSON());
    for (const n of numbers) expect(json).not.toContain(n);
    expect(await metricValue((await fleet()).registry, METRIC.calls)).toBe(pipeline.sim.counters().calls);
    const text = await (await fleet()).registry.metrics();
    // Every call answered, throttled ones too, is timed once.
    expect(text).toContain(`cams_enrich_cams_call_duration_seconds_count ${pipeline.sim.counters().calls}\n`);
    expect(text).toContain(`${METRIC.saved}{reason="fresh"} 0`);

    // Pausing and resuming the queue is told by both workers.
    const logs = () => workers.map((w) => w.stderr());
    await p.queue.pause();
    await waitFor('pause logged', 20_000, () => logs().every((s) => s.includes('"msg":"queue paused"')));
    await p.queue.resume();
    await waitFor('resume logged', 20_000, () => logs().every((s) => s.includes('"msg":"queue resumed"')));

    for (const w of workers) w.child.kill('SIGTERM');
    const codes = await Promise.all(workers.map(async (w) => (await w.exited).code));
    expect(codes).toEqual([0, 0]);
    // Both left gracefully: no live snapshot, and their counters stay in the fleet's sums.
    expect(await okCalls()).toEqual({ processes: 0, ok: 100 });

    for (const out of logs()) {
      expect(out).toContain('"msg":"worker started"');
      expect(out).toContain('"msg":"worker stopped"');
      for (const n of numbers) expect(out).not.toContain(n);
    }
    // The run finished while both were running: each says so once.
    for (const out of logs()) expect(out.split(`"msg":"run ${runId} finished"`)).toHaveLength(2);
  });
});
