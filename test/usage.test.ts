import { afterEach, describe, expect, it } from 'vitest';
import { pruneRuns } from '../src/db/prune.js';
import { runStatus } from '../src/runs/status.js';
import type { UsageReport } from '../src/runs/usage.js';
import { usageReport } from '../src/runs/usage.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pipelineEnv, startCli } from './helpers/processes.js';

let p: Pipeline | undefined;
afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
});

const today = () => new Date().toISOString().slice(0, 10);

/** `count` distinct Chinese mobile numbers starting at `start`. */
function numbers(count: number, start: number): string[] {
  return Array.from({ length: count }, (_, i) => `86138${String(20_000_000 + (start + i) * 7919).slice(-8)}`);
}

/** Per space: the calls the ledger counted. */
function callsBySpace(report: UsageReport): Record<string, number> {
  return Object.fromEntries(report.spaces.map((s) => [s.space, s.calls]));
}

describe('usage', () => {
  it('counts every request of each space as the double saw it, throttles and retries included, before and after prune', async () => {
    assertBuilt();
    // Some answers are throttles, some 503s (seeded: the same draws every time).
    p = await startPipeline({ rate: 20, attempts: 8 });
    const refused = '8613999999999';
    p.sim.setFaults([
      { match: `^${refused}$`, answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' } },
      { probability: 0.15, seed: 7, answer: { kind: 'http', status: 503 } },
      { probability: 0.2, seed: 11, answer: { kind: 'error', code: 'System.LimitControl', form: 'http400' } },
    ]);
    const a = numbers(12, 0);
    const b = numbers(10, 100);
    // Run 1, two spaces by column: a duplicate in each, a number CAMS refuses, an invalid row.
    const rows = [
      ...a.map((n) => `SA,+${n}`),
      `SA,00${a[0]}`,
      ...b.map((n) => `SB,${n}`),
      `SB,+${b[1]}`,
      `SA,+${refused}`,
      'SB,n/a',
    ];
    const first = await p.importFile(await p.csv('one.csv', `space,phone\n${rows.join('\n')}\n`), {
      spaceColumn: 'space',
    });
    const workers = p.startWorkers(2);
    await p.waitFinished(first);
    // Run 2, space SB only: half its numbers fresh from run 1, half new.
    const second = await p.importFile(
      await p.csv('two.csv', `phone\n${[...b.slice(0, 5), ...numbers(6, 200)].join('\n')}\n`),
      { space: 'SB' },
    );
    await p.waitFinished(second);
    // Closing the workers writes the requests they counted and have not written yet.
    await Promise.all(workers.map((w) => w.close()));

    const sim = p.sim.counters();
    expect(sim.throttled).toBeGreaterThan(0);
    const before = await usageReport(p.pool, { since: today() });
    expect(callsBySpace(before)).toEqual(sim.callsBySpace);
    const sa = before.spaces.find((s) => s.space === 'SA')!;
    const sb = before.spaces.find((s) => s.space === 'SB')!;
    expect(sa.throttled + sb.throttled).toBe(sim.throttled);
    expect(sa).toMatchObject({ enriched: 12, saved: { fresh: 0, duplicate: 1 }, failed: { permanent: 1 } });
    expect(sb).toMatchObject({ enriched: 16, saved: { fresh: 5, duplicate: 1 } });
    expect(before.days.map((d) => d.day)).toEqual([today(), today()]);

    // The same per run in status; a run's calls are those made for its numbers.
    const one = await runStatus(p.pool, first);
    const two = await runStatus(p.pool, second);
    expect(one.usage.calls + two.usage.calls).toBe(sim.calls);
    expect(two.usage).toMatchObject({ enriched: 6, saved: { fresh: 5, duplicate: 0 } });

    // Pruning the per-number rows leaves the figures as they were, read by the command from outside.
    expect((await pruneRuns(p.pool, { olderThanMs: 0 })).runs).toBe(2);
    const cli = startCli(['usage', '--json'], pipelineEnv(p));
    expect((await cli.exited).code).toBe(0);
    const after = JSON.parse(cli.stdout()) as UsageReport;
    expect(callsBySpace(after)).toEqual(sim.callsBySpace);
    expect(after.spaces).toEqual(before.spaces);
    expect((await runStatus(p.pool, first)).usage).toEqual(one.usage);
  });
});
