/**
 * `npm run bench -- fairness`: many runs, one quota, measured from outside. Real `cams-enrich`
 * processes (workers, import, cancel) work against an independent CAMS double (`cams-double.ts`: a
 * strict one-second sliding window at R = 10 per AccessKey, each call logged with its time and number),
 * and every figure is read from the double's log and the times the commands ended:
 *
 * 1. One queue, 2 workers, a 20 000-row run being worked; then a 50-row run at normal priority (its
 *    first call after the import's end, its finish, the share of the quota the double admitted from the
 *    import to its finish), the same at `--priority high`, a 500-row `low` run imported meanwhile (calls
 *    more than 3 s after its import), `cancel` of the 20 000-row run (its calls more than 3 s after the
 *    command; its accounting; a low run waiting for one of its numbers gets it), a normal run imported
 *    while the low run is worked alone (the low run's calls more than 3 s later while the normal run
 *    still has numbers not yet called: once all are in flight, a free slot is the low run's), and the
 *    fleet's use of the quota over the whole scenario, while runs always had work.
 * 2. Two queues of one AccessKey on one Redis database, each a run and 2 workers, for BENCH_SECONDS
 *    (default 60) after 5 s: the most calls that reached the double in any 1000 ms, the share throttled,
 *    and each queue's admitted calls per second.
 *
 * Environment: BENCH_SECONDS, BENCH_LATENCY_MS (the double's answer time, default 50), the usual
 * REDIS_URL / DATABASE_URL (a database `cams_bench_<random>` is created there and dropped).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { queueStoreOpener } from '../src/connections.js';
import type { RunStatus } from '../src/runs/status.js';
import { createScheduleQueue } from '../src/schedules/schedules.js';
import { runStatus } from '../src/runs/status.js';
import type { CamsDouble, DoubleCall } from './cams-double.js';
import { startCamsDouble } from './cams-double.js';
import type { Finished } from './cli-processes.js';
import { runCli, startWorker, stopWorkers } from './cli-processes.js';
import { benchDatabase } from './throughput-support.js';

const R = 10;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 50);

interface Figure {
  what: string;
  value: string;
  target: string;
  ok: boolean;
}

const figures: Figure[] = [];
/** Moments of the scenario, on the double's clock, for BENCH_LOG. */
const events: { at: number; what: string }[] = [];
const mark = (what: string, at = performance.now()) => events.push({ at, what });

function record(what: string, value: string, target: string, ok: boolean): void {
  figures.push({ what, value, target, ok });
  console.log(`${ok ? 'ok  ' : 'MISS'} ${what}: ${value} (target ${target})`);
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(100);
  }
}

/** `prefix` + 8 digits: the numbers of one run (13 digits, a mainland China mobile). */
function numbersOf(prefix: string, count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(from + i).padStart(8, '0')}`);
}

const plain = (n: string) => n.replace(/^\+/, '');

function callsOf(double: CamsDouble, prefix: string): DoubleCall[] {
  return double.calls.filter((c) => plain(c.number).startsWith(prefix));
}

function admittedBetween(double: CamsDouble, from: number, to: number): number {
  return double.calls.filter((c) => c.admitted && c.at >= from && c.at <= to).length;
}

/** The most calls (admitted or not) that arrived within any 1000 ms between `from` and `to`. */
function mostInAnySecond(calls: readonly DoubleCall[], from: number, to: number): number {
  const at = calls.filter((c) => c.at >= from && c.at <= to).map((c) => c.at);
  let most = 0;
  let start = 0;
  for (let end = 0; end < at.length; end++) {
    while (at[end]! - at[start]! >= 1000) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/** `cams-enrich <args>` to its end; a failure stops the bench. */
async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  const done = await runCli(args, env);
  if (done.code !== 0)
    throw new Error(`cams-enrich ${args.join(' ')} exited ${done.code}: ${done.stderr.trim()}`);
  return done;
}

function addsUp(s: RunStatus): boolean {
  return s.total === s.invalid + s.duplicate + s.skipped + s.enriched + s.failed + s.cancelled + s.pending;
}

interface Ctx {
  pool: Pool;
  double: CamsDouble;
  dir: string;
  env: (queue: string) => NodeJS.ProcessEnv;
}

async function importRun(
  ctx: Ctx,
  queue: string,
  name: string,
  numbers: readonly string[],
  extra: string[] = [],
): Promise<{ run: number; endedAt: number }> {
  const file = join(ctx.dir, `${name}.csv`);
  await writeFile(file, `phone\n${numbers.join('\n')}\n`);
  const done = await cli(['import', file, '--space', 'S1', '--json', ...extra], ctx.env(queue));
  const status = JSON.parse(done.stdout) as { run: number };
  mark(`import ${name} (run ${status.run}) ended`, done.endedAt);
  return { run: status.run, endedAt: done.endedAt };
}

async function waitFinished(ctx: Ctx, run: number, ms: number): Promise<{ status: RunStatus; at: number }> {
  return waitUntil(`run ${run} finished`, ms, async () => {
    const status = await runStatus(ctx.pool, run);
    if (status.finished) mark(`run ${run} finished`);
    return status.finished ? { status, at: performance.now() } : undefined;
  });
}

/** A small run imported behind the big one: its first call, its finish, the quota used meanwhile. */
async function smallRun(
  ctx: Ctx,
  queue: string,
  label: string,
  prefix: string,
  extra: string[],
  finishTarget: number,
): Promise<void> {
  const { run, endedAt } = await importRun(ctx, queue, label, numbersOf(prefix, 50), extra);
  const { status, at } = await waitFinished(ctx, run, 120_000);
  const first = Math.min(...callsOf(ctx.double, prefix).map((c) => c.at));
  const used = admittedBetween(ctx.double, endedAt, at) / ((R * (at - endedAt)) / 1000);
  record(
    `${label}: first call after the import's end`,
    first < endedAt ? `before the import exited (${sec(first - endedAt)})` : sec(first - endedAt),
    '≤ 5 s',
    first - endedAt <= 5000,
  );
  record(
    `${label}: finished after the import's end`,
    sec(at - endedAt),
    `≤ ${finishTarget / 1000} s`,
    at - endedAt <= finishTarget,
  );
  record(`${label}: quota admitted from the import to its finish`, used.toFixed(3), '≥ 0.95', used >= 0.95);
  if (status.enriched !== 50) throw new Error(`${label}: ${JSON.stringify(status)}`);
}

async function oneQueue(ctx: Ctx): Promise<void> {
  const queue = `bench-fair-${randomBytes(4).toString('hex')}`;
  const workers: ChildProcess[] = [];
  try {
    console.log(`\n### One queue: runs sharing R = ${R} (2 workers)\n`);
    const big = await importRun(ctx, queue, 'big', numbersOf('86130', 20_000));
    const started = performance.now();
    workers.push(startWorker(ctx.env(queue)), startWorker(ctx.env(queue)));
    await waitUntil('the big run being worked', 60_000, async () =>
      ctx.double.calls.length >= 50 ? true : undefined,
    );
    const workedFrom = Math.min(...ctx.double.calls.map((c) => c.at));

    await smallRun(ctx, queue, 'normal 50-row run', '86131', [], 20_000);
    await smallRun(ctx, queue, 'high 50-row run', '86132', ['--priority', 'high'], 12_000);

    // A low run while the big normal one has work: nothing for it.
    const low = await importRun(ctx, queue, 'low', numbersOf('86133', 500), ['--priority', 'low']);
    await pause(10_000);
    const lowLate = callsOf(ctx.double, '86133').filter((c) => c.at > low.endedAt + 3000).length;
    record(
      'low run imported behind a normal run with work: its calls after 3 s',
      String(lowLate),
      '0',
      lowLate === 0,
    );

    // A low run waiting for one of the big run's numbers (the last, not called yet), then the cancel.
    const shared = numbersOf('86130', 1, 19_999)[0]!;
    const waiting = await importRun(
      ctx,
      queue,
      'waiting',
      [shared, ...numbersOf('86135', 2)],
      ['--priority', 'low'],
    );
    const cancelled = await cli(['cancel', String(big.run), '--json'], ctx.env(queue));
    mark(`cancel of run ${big.run} ended`, cancelled.endedAt);
    await pause(6000);
    const bigLate = callsOf(ctx.double, '86130').filter(
      (c) => plain(c.number) !== shared && c.at > cancelled.endedAt,
    );
    const lastBig = bigLate.length > 0 ? Math.max(...bigLate.map((c) => c.at)) - cancelled.endedAt : 0;
    record(
      "cancel of the 20 000-row run: its last call after the command's end",
      bigLate.length > 0 ? sec(lastBig) : 'none',
      '≤ 3 s',
      lastBig <= 3000,
    );
    const bigStatus = await waitUntil('the cancelled run settled', 30_000, async () => {
      const s = await runStatus(ctx.pool, big.run);
      return s.pending === 0 ? s : undefined;
    });
    record(
      'cancelled run accounting (total = invalid + duplicate + skipped + enriched + failed + cancelled + pending)',
      `${bigStatus.total} = ${bigStatus.enriched} enriched + ${bigStatus.cancelled} cancelled + ${bigStatus.pending} pending (${bigStatus.phase})`,
      'adds up, cancelled',
      addsUp(bigStatus) && bigStatus.phase === 'cancelled',
    );
    const waited = await waitFinished(ctx, waiting.run, 120_000);
    const sharedCalled = ctx.double.calls.some((c) => c.admitted && plain(c.number) === shared);
    record(
      "a run waiting for one of the cancelled run's numbers",
      `${waited.status.enriched}/3 enriched, the shared number ${sharedCalled ? 'called' : 'not called'}`,
      'gets it',
      waited.status.enriched === 3 && sharedCalled,
    );

    // The low run is worked alone now; a normal run arrives.
    await waitUntil('the low run being worked', 30_000, async () =>
      callsOf(ctx.double, '86133').length > 0 ? true : undefined,
    );
    await pause(3000);
    const normal = await importRun(ctx, queue, 'normal-after-low', numbersOf('86134', 50));
    const normalDone = await waitFinished(ctx, normal.run, 60_000);
    // The normal run has work while some of its numbers have not reached the double yet: its last
    // admitted call ends that. Once all of them are in flight, a free slot has no normal call to go to,
    // and a low call taking it uses quota that would otherwise stay idle.
    const lastNormal = Math.max(
      ...callsOf(ctx.double, '86134')
        .filter((c) => c.admitted)
        .map((c) => c.at),
    );
    const lowCalls = callsOf(ctx.double, '86133').filter((c) => c.at > normal.endedAt + 3000);
    const lowDuring = lowCalls.filter((c) => c.at < lastNormal).length;
    const lowInFlight = lowCalls.filter((c) => c.at >= lastNormal && c.at <= normalDone.at).length;
    record(
      'low run being worked when a normal run arrives: its calls from 3 s after the import while the normal run had numbers not yet called',
      `${lowDuring} (and ${lowInFlight} after its last call, before its finish was seen)`,
      '0',
      lowDuring === 0,
    );

    // Runs had work from the first call to here.
    const until = normalDone.at;
    const from = workedFrom;
    const used = admittedBetween(ctx.double, from, until) / ((R * (until - from)) / 1000);
    const all = ctx.double.calls.filter((c) => c.at >= from && c.at <= until);
    const throttled = all.filter((c) => !c.admitted).length;
    record(
      `fleet's use of the quota while runs had work (${sec(until - from)}, ${throttled} of ${all.length} calls throttled)`,
      used.toFixed(3),
      '≥ 0.97',
      used >= 0.97,
    );
    console.log(`(workers started ${sec(workedFrom - started)} before their first call)`);
    await cli(['cancel', String(low.run)], ctx.env(queue));
  } finally {
    await stopWorkers(workers);
    await discard(ctx, queue);
  }
}

async function twoQueues(ctx: Ctx): Promise<void> {
  const tag = randomBytes(4).toString('hex');
  const queues = [`bench-fair-a-${tag}`, `bench-fair-b-${tag}`];
  const prefixes = ['86136', '86137'];
  const workers: ChildProcess[] = [];
  try {
    console.log(`\n### Two queues, one AccessKey, one Redis database (2 workers each, ${SECONDS} s)\n`);
    const startAt = ctx.double.calls.length;
    for (const [i, q] of queues.entries())
      await importRun(ctx, q, `queue-${i}`, numbersOf(prefixes[i]!, 3000));
    for (const q of queues) workers.push(startWorker(ctx.env(q)), startWorker(ctx.env(q)));
    await waitUntil('both queues being worked', 60_000, async () =>
      prefixes.every((p) => callsOf(ctx.double, p).length > 0) ? true : undefined,
    );
    const from = performance.now() + 5000;
    const to = from + SECONDS * 1000;
    await pause(to - performance.now() + 500);
    const calls = ctx.double.calls.slice(startAt).filter((c) => c.at >= from && c.at <= to);
    const most = mostInAnySecond(calls, from, to);
    const throttled = calls.filter((c) => !c.admitted).length;
    record('calls reaching the double in any 1000 ms (both queues)', String(most), `≤ ${R}`, most <= R);
    const share = throttled / Math.max(1, calls.length);
    record(
      `throttled (${throttled} of ${calls.length})`,
      `${(share * 100).toFixed(2)}%`,
      '≤ 0.5%',
      share <= 0.005,
    );
    for (const [i, p] of prefixes.entries()) {
      const rate = calls.filter((c) => c.admitted && plain(c.number).startsWith(p)).length / SECONDS;
      record(`queue ${i + 1}: admitted calls per second`, rate.toFixed(2), `≥ ${0.4 * R}`, rate >= 0.4 * R);
    }
  } finally {
    await stopWorkers(workers);
    for (const q of queues) await discard(ctx, q);
  }
}

/** Removes a queue the bench made, and the workers' schedules queue, from the store its workers used (`env`'s). */
async function discard(ctx: Ctx, queueName: string): Promise<void> {
  const config = loadConfig(ctx.env(queueName));
  const store = queueStoreOpener(config, createLogger({ level: 'silent' }), ctx.pool)('producer');
  const queue = store.queue(queueName);
  const schedules = createScheduleQueue(queueName, store);
  try {
    await store.ready();
    await store.discardQueue(queue);
    await schedules.obliterate({ force: true });
  } finally {
    await schedules.close();
    await queue.close();
    await store.close();
  }
}

export async function run(): Promise<void> {
  const log = createLogger({ level: 'silent' });
  const db = await benchDatabase(log);
  const pool = createPool(db.url, log, { max: 2 });
  const double = await startCamsDouble({ rate: R, latencyMs: LATENCY });
  const dir = await mkdtemp(join(tmpdir(), 'cams-bench-fair-'));
  const accessKeyId = `LTAIbench${randomBytes(6).toString('hex')}`;
  const env = (queue: string): NodeJS.ProcessEnv => ({
    ...process.env,
    DATABASE_URL: db.url,
    CAMS_QUEUE: queue,
    CAMS_ENDPOINT: double.endpoint,
    CAMS_PROTOCOL: 'http',
    CAMS_RATE_LIMIT: String(R),
    ALIBABA_CLOUD_ACCESS_KEY_ID: accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: randomBytes(12).toString('hex'),
    LOG_LEVEL: 'warn',
  });
  try {
    const ctx: Ctx = { pool, double, dir, env };
    await oneQueue(ctx);
    await twoQueues(ctx);
    const missed = figures.filter((f) => !f.ok);
    console.log(`\n${figures.length - missed.length} of ${figures.length} figures on target`);
    if (process.env.BENCH_LOG) {
      const lines = [
        ...double.calls.map((c) => ({
          at: c.at,
          line: `${c.number} ${c.admitted ? 'admitted' : 'throttled'}`,
        })),
        ...events.map((e) => ({ at: e.at, line: `# ${e.what}` })),
      ].sort((a, b) => a.at - b.at);
      await writeFile(
        process.env.BENCH_LOG,
        lines.map((l) => `${l.at.toFixed(1)} ${l.line}`).join('\n') + '\n',
      );
    }
  } finally {
    await double.close();
    await pool.end();
    await rm(dir, { recursive: true, force: true });
    await db.drop();
  }
}
