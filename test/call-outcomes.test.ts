/**
 * `/metrics` counts the fleet's CAMS calls by outcome, from what two real `cams-enrich worker`
 * processes publish, and per customer space only when the workers are told to
 * (`METRICS_SPACE_LABELS=true`). Every figure is checked against what the simulator itself answered.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Dashboard } from '../src/dashboard/server.js';
import { CALL_OUTCOMES, METRIC } from '../src/metrics/worker-metrics.js';
import { pipelineDashboard } from './helpers/dashboard.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, startWorkerProcess } from './helpers/processes.js';

let p: Pipeline | undefined;
let dashboard: Dashboard | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  dashboard?.close();
  dashboard = undefined;
  await p?.close();
  p = undefined;
});

/** Each series of `name` in a Prometheus text answer, its labels as `k=v,k=v`, with its value. */
function series(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => `${k}=${v}`).join(',');
    found.set(labels, Number(m[3]));
  }
  return found;
}

const numbers = (n: number, start: number) =>
  Array.from({ length: n }, (_, i) => `4479${String(start + i * 41).slice(-8)}`);

describe('calls by outcome on /metrics', () => {
  it.each([
    { spaceLabels: true, what: 'with per-space series when the workers opt in' },
    { spaceLabels: false, what: 'and no per-space series by default' },
  ])('adds up every worker $what', async ({ spaceLabels }) => {
    const first = numbers(30, 12_000_000);
    const second = numbers(32, 13_000_000);
    const refused = [first[3]!, first[17]!, second[5]!];
    const flaky = [first[8]!, second[9]!, second[30]!];
    // The simulator allows 10 calls a second and the workers are told 20: some calls are throttled.
    p = await startPipeline({
      rate: 10,
      simulator: {
        faults: [
          {
            match: `^(${refused.join('|')})$`,
            answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' },
          },
          {
            match: `^(${flaky.join('|')})$`,
            answer: { kind: 'http', status: 503 },
            times: 1,
            timesPer: 'number',
          },
        ],
      },
    });
    const toCsv = (ns: string[]) => 'phone\n' + ns.map((n) => `+${n}`).join('\n') + '\n';
    const runs = [
      await p.importFile(await p.csv('s1.csv', toCsv(first)), { space: 'S1' }),
      await p.importFile(await p.csv('s2.csv', toCsv(second)), { space: 'S2' }),
    ];
    const env = { METRICS_SPACE_LABELS: String(spaceLabels), CAMS_ATTEMPTS: '3' };
    const workers = [startWorkerProcess(p, { rate: 20, env }), startWorkerProcess(p, { rate: 20, env })];
    for (const run of runs) await p.waitFinished(run, 90_000);
    // Stopped gracefully, each worker folds its counters into the fleet's kept total: nothing is in flight.
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map(async (w) => (await w.exited).code))).toEqual([0, 0]);

    dashboard = pipelineDashboard(p, { env: { CAMS_RATE_LIMIT: '20' } });
    const res = await dashboard.app.request('/metrics');
    expect(res.status).toBe(200);
    const text = await res.text();
    const sim = p.sim.counters();
    const outcomes = series(text, METRIC.outcomes);
    expect(Object.fromEntries(outcomes)).toEqual({
      'outcome=enriched': sim.ok,
      'outcome=failed_permanent': refused.length,
      'outcome=throttled': sim.throttled,
      'outcome=transient': flaky.length,
      'outcome=unreachable': 0,
      'outcome=account_refused': 0,
      'outcome=clock_refused': 0,
      'outcome=error': 0,
    });
    expect(sim.ok).toBe(first.length + second.length - refused.length);
    expect(sim.errors).toBe(refused.length + flaky.length);
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(sim.calls);
    expect([...series(text, METRIC.calls).values()].reduce((a, b) => a + b, 0)).toBe(sim.calls);
    expect(series(text, METRIC.throttled).get('')).toBe(sim.throttled);

    const bySpace = series(text, METRIC.spaceOutcomes);
    if (!spaceLabels) {
      expect(bySpace.size).toBe(0);
      expect(text).not.toContain('space=');
      return;
    }
    for (const space of ['S1', 'S2']) {
      const mine = [...bySpace].filter(([labels]) => labels.startsWith(`space=${space},`));
      expect(mine.reduce((a, [, n]) => a + n, 0)).toBe(sim.callsBySpace[space]);
    }
    // Each outcome's per-space series add up to its fleet-wide one.
    for (const outcome of CALL_OUTCOMES) {
      const sum = [...bySpace]
        .filter(([labels]) => labels.endsWith(`,outcome=${outcome}`))
        .reduce((a, [, n]) => a + n, 0);
      expect(sum).toBe(outcomes.get(`outcome=${outcome}`));
    }
    expect(bySpace.get('space=S1,outcome=failed_permanent')).toBe(2);
    expect(bySpace.get('space=S2,outcome=failed_permanent')).toBe(1);
    expect(bySpace.get('space=S1,outcome=transient')).toBe(1);
    expect(bySpace.get('space=S2,outcome=transient')).toBe(2);
  });
});
