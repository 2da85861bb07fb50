/**
 * Cancel: a run's pending numbers are counted `cancelled` and leave Redis, a number another run waits
 * for keeps its job, calls in flight keep their real outcome, the accounting adds up; cancelling an
 * importing run stops its importer (exit 1), cancelling twice does nothing, a finished run cannot be.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRun, markReady } from '../src/db/runs.js';
import { unfinishedJobs } from '../src/queue/queue.js';
import { cancelRun } from '../src/runs/cancel.js';
import { runStatus } from '../src/runs/status.js';
import type { RunStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, BIN, killAll, pipelineEnv, startCli, waitFor } from './helpers/processes.js';

let p: Pipeline | undefined;

beforeAll(() => assertBuilt());

afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
});

function numbers(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
}

function expectAccounted(s: RunStatus): void {
  expect(s.total).toBe(s.invalid + s.duplicate + s.skipped + s.enriched + s.failed + s.cancelled + s.pending);
}

/** Numbers the simulator answered with a profile. */
function called(pipeline: Pipeline): Set<string> {
  return new Set(Object.keys(pipeline.sim.counters().okByNumber));
}

describe('cancel', () => {
  it('cancels the pending numbers and their jobs, and keeps the job of a number another run waits for', async () => {
    p = await startPipeline({ rate: 50 });
    const aNumbers = numbers('86138', 200);
    const a = await p.importFile(await p.csv('a.csv', `phone\n${aNumbers.join('\n')}\n`));
    expect(await unfinishedJobs(p.queue)).toBeGreaterThan(0);
    const shared = aNumbers[0]!;
    const bNumbers = [shared, '8613900000001', '8613900000002'];
    const b = await p.importFile(await p.csv('b.csv', `phone\n${bNumbers.join('\n')}\n`));

    const result = await cancelRun({ pool: p.pool, queue: p.queue }, a);
    expect(result).toMatchObject({ run: a, outcome: 'cancelled', cancelled: 200, inFlight: 0 });
    // Only the shared number's job is left of run a's.
    const left = await p.queue.getJobs(['waiting', 'prioritized', 'delayed']);
    expect(left.map((j) => j.data.phoneNumber).filter((n) => aNumbers.includes(n))).toEqual([shared]);

    const s = await runStatus(p.pool, a);
    expect(s).toMatchObject({
      state: 'cancelled',
      phase: 'cancelled',
      cancelled: 200,
      pending: 0,
      finished: true,
    });
    expectAccounted(s);

    p.startWorkers(2);
    expect(await p.waitFinished(b)).toMatchObject({ enriched: 3, pending: 0, phase: 'finished' });
    expect([...called(p)].filter((n) => aNumbers.includes(n))).toEqual([shared]);

    // Twice is once; a run that finished otherwise cannot be cancelled.
    expect(await cancelRun({ pool: p.pool, queue: p.queue }, a)).toMatchObject({
      outcome: 'already-cancelled',
    });
    await expect(cancelRun({ pool: p.pool, queue: p.queue }, b)).rejects.toMatchObject({
      code: 'RUN_FINISHED',
      exitCode: 2,
    });
  });

  it('lets calls in flight finish with their real outcome and makes no other call', async () => {
    p = await startPipeline({
      rate: 10,
      readTimeoutMs: 10_000,
      simulator: { faults: [{ answer: { kind: 'slow', delayMs: 1500 } }] },
    });
    const all = numbers('86137', 20);
    const run = await p.importFile(await p.csv('slow.csv', `phone\n${all.join('\n')}\n`));
    p.startWorkers(1); // concurrency 4: four calls in flight, each answered after 1.5 s
    await waitFor('four calls in flight', 30_000, () => p!.sim.counters().calls >= 4);
    const result = await cancelRun({ pool: p.pool, queue: p.queue }, run);
    expect(result.inFlight).toBeGreaterThanOrEqual(4);
    const s = await p.waitFinished(run, 60_000);
    expectAccounted(s);
    expect(s).toMatchObject({ phase: 'cancelled', failed: 0, pending: 0 });
    expect(s.enriched).toBe(result.inFlight);
    expect(s.cancelled).toBe(20 - result.inFlight);
    // The numbers enriched are exactly those called; no cancelled number was called.
    const { rows } = await p.pool.query<{ phone_number: string; state: string }>(
      'SELECT phone_number, state FROM run_items WHERE run_id = $1',
      [run],
    );
    const enriched = rows.filter((r) => r.state === 'enriched').map((r) => r.phone_number);
    expect(new Set(enriched)).toEqual(called(p));
  });

  it('settles a call whose job was taken while the cancel was written with its real outcome, at once', async () => {
    p = await startPipeline({
      rate: 10,
      readTimeoutMs: 10_000,
      simulator: { faults: [{ answer: { kind: 'slow', delayMs: 2000 } }] },
    });
    const pipeline = p;
    const all = numbers('86134', 6);
    const run = await pipeline.importFile(await pipeline.csv('race.csv', `phone\n${all.join('\n')}\n`));
    // The cancel reads the calls in flight (none), then waits for the run's row, held here: meanwhile a
    // worker takes jobs, finds their numbers pending and calls, each call held 2 s by the simulator.
    const holder = await pipeline.pool.connect();
    let cancelling: Promise<Awaited<ReturnType<typeof cancelRun>>> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM runs WHERE id = $1 FOR UPDATE', [run]);
      cancelling = cancelRun({ pool: pipeline.pool, queue: pipeline.queue }, run);
      await waitFor('the cancel waiting for the run', 30_000, async () => {
        const { rows } = await pipeline.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND datname = current_database()`,
        );
        return rows[0]!.n > 0 || undefined;
      });
      pipeline.startWorkers(1);
      await waitFor('two calls in flight', 30_000, () => pipeline.sim.counters().calls >= 2 || undefined);
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    const result = await cancelling;
    expect(result).toMatchObject({ outcome: 'cancelled', inFlight: 0 });
    // Nothing is left pending by the cancel: the accounting adds up now, not after a sweep.
    const now = await runStatus(pipeline.pool, run);
    expect(now).toMatchObject({ phase: 'cancelled', pending: 0 });
    expectAccounted(now);

    // The calls made for it keep their real outcome; no other number is called.
    const s = await waitFor('the calls settled', 30_000, async () => {
      const st = await runStatus(pipeline.pool, run);
      const answered = called(pipeline).size;
      const active = await pipeline.queue.getActiveCount();
      const settled = answered >= 2 && pipeline.sim.counters().calls === answered && active === 0;
      return settled && st.enriched === answered ? st : undefined;
    });
    expectAccounted(s);
    expect(s).toMatchObject({ phase: 'cancelled', pending: 0, failed: 0, cancelled: 6 - s.enriched });
    const { rows } = await pipeline.pool.query<{ phone_number: string; state: string }>(
      'SELECT phone_number, state FROM run_items WHERE run_id = $1',
      [run],
    );
    const enriched = rows.filter((r) => r.state === 'enriched').map((r) => r.phone_number);
    expect(new Set(enriched)).toEqual(called(pipeline));
    expect(pipeline.sim.counters().calls).toBe(called(pipeline).size);
  });

  it('is carried out when it deadlocks with a settle (a settle locks a row, then its run)', async () => {
    p = await startPipeline({ rate: 10 });
    const pipeline = p;
    const all = numbers('86135', 5);
    const run = await pipeline.importFile(await pipeline.csv('deadlock.csv', `phone\n${all.join('\n')}\n`));
    // A settle's order, held open: one of the run's rows locked first, then (once the cancel holds the
    // run and waits for that row) the run's counters. PostgreSQL breaks the cycle by failing the cancel,
    // whose wait began first; this session waits 10 s before it looks for a deadlock itself.
    const settle = await pipeline.pool.connect();
    try {
      await settle.query("SET deadlock_timeout = '10s'");
      await settle.query('BEGIN');
      await settle.query(
        `UPDATE run_items SET updated_at = clock_timestamp()
         WHERE ctid = (SELECT ctid FROM run_items WHERE run_id = $1 AND state = 'pending' LIMIT 1)`,
        [run],
      );
      const cancelling = cancelRun({ pool: pipeline.pool, queue: pipeline.queue }, run);
      await waitFor('the cancel waiting for the locked row', 30_000, async () => {
        const { rows } = await pipeline.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND datname = current_database()`,
        );
        return rows[0]!.n > 0 || undefined;
      });
      const settling = settle.query('UPDATE runs SET pending = pending WHERE id = $1', [run]).then(
        async () => settle.query('COMMIT'),
        async (err: unknown) => {
          await settle.query('ROLLBACK');
          throw err;
        },
      );
      // The settle goes through, and the cancel, failed by the deadlock, is tried again and done.
      await settling;
      expect(await cancelling).toMatchObject({ outcome: 'cancelled', cancelled: 5, inFlight: 0 });
    } finally {
      settle.release();
    }
    const s = await runStatus(pipeline.pool, run);
    expect(s).toMatchObject({ phase: 'cancelled', pending: 0, cancelled: 5 });
    expectAccounted(s);
  });

  it('stops an importing run: the importer exits 1 saying so, what it recorded is cancelled', async () => {
    p = await startPipeline();
    const env = pipelineEnv(p);
    const importer = spawn(process.execPath, [BIN, 'import', '-', '--space', 'S1'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    importer.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    importer.stdin.on('error', () => undefined);
    const exited = once(importer, 'exit');
    // One chunk (5 000 rows) is recorded; the import stays open, waiting for more.
    importer.stdin.write(`phone\n${numbers('86135', 6000).join('\n')}\n`);
    const runId = await waitFor('the first chunk recorded', 60_000, async () => {
      const { rows } = await p!.pool.query<{ id: string }>(
        `SELECT id FROM runs WHERE state = 'importing' AND total >= 5000`,
      );
      return rows[0] ? Number(rows[0].id) : undefined;
    });

    const cancel = startCli(['cancel', String(runId)], env);
    expect((await cancel.exited).code).toBe(0);
    expect(cancel.stdout()).toContain(`run ${runId} cancelled`);

    importer.stdin.end(`${numbers('86136', 10).join('\n')}\n`);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(1);
    expect(stderr).toContain(`run ${runId} was cancelled`);
    const s = await runStatus(p.pool, runId);
    expect(s).toMatchObject({ state: 'cancelled', phase: 'cancelled', pending: 0 });
    expect(s.cancelled).toBeGreaterThanOrEqual(5000);
    expectAccounted(s);

    const again = startCli(['cancel', String(runId), '--json'], env);
    expect((await again.exited).code).toBe(0);
    expect(JSON.parse(again.stdout())).toMatchObject({ run: runId, outcome: 'already-cancelled' });
  });

  it('refuses to cancel a finished run (exit 2) and changes a priority from the command line', async () => {
    p = await startPipeline();
    const env = pipelineEnv(p);
    const done = await createRun(p.pool, { queue: p.queueName, source: 'csv:none.csv', maxAgeMs: 0 });
    await markReady(p.pool, done);
    const refused = startCli(['cancel', String(done)], env);
    expect((await refused.exited).code).toBe(2);
    expect(refused.stderr()).toContain(`run ${done} has finished`);

    const run = await p.importFile(await p.csv('one.csv', 'phone\n8613800000001\n'));
    const set = startCli(['priority', String(run), 'high'], env);
    expect((await set.exited).code).toBe(0);
    const status = startCli(['status', '--run', String(run), '--json'], env);
    expect((await status.exited).code).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({
      run,
      priority: 'high',
      state: 'ready',
      phase: 'running',
    });
    const bad = startCli(['priority', String(run), 'urgent'], env);
    expect((await bad.exited).code).toBe(2);
  });
});
