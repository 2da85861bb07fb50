/**
 * `npm run bench -- limiter`: how much of the quota the fleet uses and how many of its calls CAMS
 * throttles, measured from outside by the simulator (a strict sliding one-second window per AccessKey,
 * counting each admitted call by the time it reached the limiter). Every case runs three times in the
 * same run, with real worker processes (`bench/limiter-worker.ts`): with the rate controller as shipped
 * (its state in Redis), with the rate controller's state in PostgreSQL (`createPostgresRateState`), and
 * with BullMQ's stock way (its `{max: rate, duration: 1000}` limiter and a queue-wide back-off on each
 * throttle) as the reference. A case with a number count (`r10-w2-n2000`) imports that many numbers and
 * measures from the fleet's first call to its last; the others measure BENCH_SECONDS.
 *
 * Environment: BENCH_SECONDS (measured seconds per case, default 60), BENCH_LATENCY_MS (simulated CAMS
 * latency, default 80), BENCH_CASES (comma-separated case ids, default all), BENCH_VARIANTS
 * (comma-separated of controller, postgres, stock; default all three), BENCH_NUMBERS (the count of the
 * counted case, for a short try), BENCH_REFERENCE=0 (skip the
 * stock reference while tuning; the recorded tables always have it), BENCH_TRACE=1 (a line every
 * 500 ms on stderr: the fleet's admitted and throttled calls, the controller's rate and margin, and
 * the other client's calls), and the usual REDIS_URL / DATABASE_URL (a database `cams_bench_<random>`
 * is created there and dropped).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { createPostgresRateState } from '../src/queue/postgres-rate-state.js';
import { readLimiterState } from '../src/queue/rate-controller.js';
import { queueStoreOpener } from '../src/connections.js';
import type { RateStateStore } from '../src/queue/rate-controller.js';
import { importCsv } from '../src/runs/csv-import.js';
import { startLocalStack } from '../workers/local-stack.js';
import { benchDatabase } from './throughput-support.js';
import type { BackgroundClient, InboundDelay } from '../src/simulator/simulator.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
/** Overrides the number count of the counted cases (a short try). */
const NUMBERS = process.env.BENCH_NUMBERS ? Number(process.env.BENCH_NUMBERS) : undefined;
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 80);
const ONLY = process.env.BENCH_CASES?.split(',').map((s) => s.trim());
const REFERENCE = process.env.BENCH_REFERENCE !== '0';
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'controller,postgres,stock')
  .split(',')
  .map((s) => s.trim())
  .filter((v): v is Mode => v === 'controller' || v === 'postgres' || (v === 'stock' && REFERENCE));
const TRACE = process.env.BENCH_TRACE === '1';
const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'limiter-worker.js');

interface Case {
  id: string;
  rate: number;
  workers: number;
  jitter?: InboundDelay;
  /** Another client on the AccessKey for the measured period; then `recoverySeconds` without it. */
  background?: BackgroundClient;
  recoverySeconds?: number;
  /** Imports this many numbers and measures from the fleet's first call to its last (no stock reference: too slow). */
  numbers?: number;
}

const CASES: Case[] = [
  { id: 'r10-w1', rate: 10, workers: 1 },
  { id: 'r10-w4', rate: 10, workers: 4 },
  { id: 'r100-w2', rate: 100, workers: 2 },
  { id: 'r100-w4', rate: 100, workers: 4 },
  { id: 'jitter', rate: 10, workers: 2, jitter: { minMs: 0, maxMs: 80 } },
  { id: 'shared', rate: 10, workers: 2, background: { rate: 4 }, recoverySeconds: 15 },
  { id: 'r10-w2-n2000', rate: 10, workers: 2, numbers: NUMBERS ?? 2000 },
];

/** `controller`: the rate controller, its state in Redis; `postgres`: its state in PostgreSQL; `stock`: the reference. */
type Mode = 'controller' | 'postgres' | 'stock';

const VARIANT_NAMES: Record<Mode, string> = {
  controller: 'rate controller, Redis state',
  postgres: 'rate controller, PostgreSQL state',
  stock: 'BullMQ stock (reference)',
};

interface Measured {
  mode: Mode;
  /** Calls of the fleet admitted per second of the measured period, over the quota left to it. */
  share: number;
  callsPerSecond: number;
  calls: number;
  throttled: number;
  throttledShare: number;
  /** Most calls the AccessKey admitted in any sliding second (the other client's included). */
  maxInAnySecond: number;
  fetchedTwice: number;
  /** What the run really had: worker processes alive, the controller's state (or none), the other client. */
  check: string;
  /** Shared case: seconds after the other client stopped until two seconds in a row averaged >= 0.95 R. */
  recoverySeconds?: number | null;
  /** Shared case: share of R over the recovery period's last 5 s. */
  recoveredShare?: number;
  /** Seconds measured: BENCH_SECONDS, or from the first call to the last of a case with a number count. */
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

async function measureCase(c: Case, mode: Mode, databaseUrl: string, offset: number): Promise<Measured> {
  const config = loadConfig();
  const log = createLogger({ level: 'silent' });
  const pool = createPool(databaseUrl, log, { max: 2 });
  const queueName = `bench-limiter-${randomBytes(5).toString('hex')}`;
  // The simulator, its AccessKey and the queue; the workers are processes of their own (below).
  const stack = await startLocalStack({
    pool,
    log,
    openStore: queueStoreOpener({ ...config, databaseUrl }, log, pool),
    queueName,
    rate: c.rate,
    simulator: {
      faults: LATENCY > 0 ? [{ answer: { kind: 'slow', delayMs: LATENCY } }] : [],
      inboundDelay: c.jitter,
    },
  });
  const { sim, accessKeyId, accessKeySecret } = stack;
  const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-bench-'));
  const children: ChildProcess[] = [];
  try {
    // Enough numbers that the queue never runs dry: 1.5x the quota over every measured second.
    const n = c.numbers ?? Math.ceil(c.rate * (SECONDS + (c.recoverySeconds ?? 0) + 10) * 1.5);
    const numbers = Array.from({ length: n }, (_, i) => `86139${String(10_000_000 + offset + i).slice(-8)}`);
    const file = join(dir, 'numbers.csv');
    await writeFile(file, 'phone\n' + numbers.join('\n') + '\n');
    await importCsv(pool, log, { file, queue: queueName, space: 'bench', maxAgeMs: 0 });

    const concurrency = Math.max(4, Math.ceil((c.rate * 0.5) / c.workers));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      CAMS_QUEUE: queueName,
      CAMS_ENDPOINT: sim.endpoint,
      CAMS_PROTOCOL: 'http',
      CAMS_RATE_LIMIT: String(c.rate),
      ALIBABA_CLOUD_ACCESS_KEY_ID: accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: accessKeySecret,
      BENCH_MODE: mode,
      BENCH_CONCURRENCY: String(concurrency),
    };
    for (let i = 0; i < c.workers; i++) {
      const child = spawn(process.execPath, [WORKER], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
    }
    await Promise.all(children.map((child) => once(child.stdout!, 'data')));
    if (c.background) sim.setBackground(c.background);
    // The measured period starts at the fleet's first admitted call.
    while (sim.counters().ok + sim.counters().throttled === 0) await sleep(20);
    const okBefore = sim.counters().ok;
    sim.resetCounters();
    const startedAt = performance.now();
    const rateState =
      mode === 'postgres'
        ? createPostgresRateState(pool, stack.account)
        : stack.store.rateState(stack.account);
    const trace = TRACE ? traceCase(c, mode, rateState, sim) : undefined;
    let seconds = SECONDS;
    if (c.numbers === undefined) {
      await sleep(SECONDS * 1000);
    } else {
      // Until every number was fetched (or three times the time the quota needs for them), noting when
      // the last admitted call came: the period is from the first call to the last.
      let lastAt = startedAt;
      let ok = 0;
      const deadline = startedAt + (c.numbers / c.rate) * 3000;
      while (okBefore + ok < c.numbers && performance.now() < deadline) {
        await sleep(20);
        const now = sim.counters().ok;
        if (now !== ok) lastAt = performance.now();
        ok = now;
      }
      seconds = (lastAt - startedAt) / 1000;
    }
    const during = sim.counters();
    const alive = children.filter((ch) => ch.exitCode === null).length;
    const bg = during.background;

    let recoverySeconds: number | null | undefined;
    let recoveredShare: number | undefined;
    if (c.background) {
      sim.setBackground(undefined);
      sim.resetCounters();
      await sleep((c.recoverySeconds ?? 15) * 1000);
      const per = sim.counters().admittedPerSecond;
      recoverySeconds = null;
      for (let k = 0; k + 1 < per.length; k++) {
        if ((per[k]! + per[k + 1]!) / 2 >= 0.95 * c.rate) {
          recoverySeconds = k + 1;
          break;
        }
      }
      const tail = per.slice(-6, -1);
      recoveredShare = round(tail.reduce((a, b) => a + b, 0) / tail.length / c.rate);
    }

    trace?.stop();
    const stored = await readLimiterState(rateState, c.rate);
    const state = stored.active || stored.quotaStored ? stored : undefined;
    const where = mode === 'postgres' ? 'PostgreSQL' : 'Redis';
    const check = [
      `${alive} worker process${alive === 1 ? '' : 'es'}`,
      state
        ? `controller in ${where} ${state.allowedRate}/s, margin ${state.marginMs} ms`
        : `no controller state in ${where}`,
      c.background ? `other client ${round(bg.ok / SECONDS, 2)}/s admitted, ${bg.throttled} throttled` : '',
      c.jitter ? `simulator delay ${c.jitter.minMs ?? 0}-${c.jitter.maxMs} ms` : '',
    ]
      .filter((s) => s !== '')
      .join('; ');
    const left = c.rate - (c.background?.rate ?? 0);
    // A timed case counts its whole seconds; a counted one its calls after the first, over first to last.
    const admitted =
      c.numbers === undefined
        ? during.admittedPerSecond.slice(0, SECONDS).reduce((a, b) => a + b, 0)
        : during.admittedPerSecond.reduce((a, b) => a + b, 0) - 1;
    return {
      mode,
      seconds: round(seconds, 1),
      share: round(admitted / seconds / left),
      callsPerSecond: round(admitted / seconds, 2),
      calls: during.calls,
      throttled: during.throttled,
      throttledShare: round(during.throttled / Math.max(1, during.calls), 4),
      maxInAnySecond: during.maxCallsInAnyWindow,
      fetchedTwice: Object.values(during.okByNumber).filter((v) => v > 1).length,
      check,
      recoverySeconds,
      recoveredShare,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) => (child.exitCode === null ? once(child, 'exit') : Promise.resolve())),
    );
    await stack.close({ force: true, discardQueue: true });
    await pool.end();
    await rm(dir, { recursive: true, force: true });
  }
}

/** BENCH_TRACE: every 500 ms, what the simulator saw of the fleet and what the controller allows. */
function traceCase(
  c: Case,
  mode: Mode,
  rate: RateStateStore,
  sim: { counters(): { ok: number; throttled: number; background: { ok: number; throttled: number } } },
): { stop(): void } {
  const started = Date.now();
  const timer = setInterval(() => {
    const { ok, throttled, background } = sim.counters();
    const state = readLimiterState(rate, c.rate);
    void state.then(
      (st) =>
        process.stderr.write(
          `${c.id} ${mode} t=${((Date.now() - started) / 1000).toFixed(1)} ok=${ok} throttled=${throttled} ` +
            `allowed=${st.allowedRate} margin=${st.marginMs}` +
            (c.background ? ` other-ok=${background.ok} other-throttled=${background.throttled}` : '') +
            '\n',
        ),
      () => undefined,
    );
  }, 500);
  return { stop: () => clearInterval(timer) };
}

function describeCase(c: Case): string {
  const parts = [`R = ${c.rate}`, `${c.workers} worker${c.workers === 1 ? '' : 's'}`];
  if (c.jitter) parts.push(`${c.jitter.minMs ?? 0}–${c.jitter.maxMs} ms jitter`);
  if (c.background)
    parts.push(`other client ${c.background.rate}/s (share of the ${c.rate - c.background.rate}/s left)`);
  if (c.numbers !== undefined) parts.push(`${c.numbers} numbers, first call to last`);
  return parts.join(', ');
}

export async function run(): Promise<void> {
  const db = await benchDatabase(createLogger({ level: 'silent' }));
  const results: { c: Case; measured: Measured[] }[] = [];
  try {
    console.log(
      `limiter bench: ${SECONDS} s measured per case, ${LATENCY} ms simulated CAMS latency, worker processes`,
    );
    let offset = 0;
    for (const c of CASES.filter((x) => !ONLY || ONLY.includes(x.id))) {
      const measured: Measured[] = [];
      for (const mode of VARIANTS) {
        if (mode === 'stock' && c.numbers !== undefined) continue;
        measured.push(await measureCase(c, mode, db.url, (offset += 1_000_000)));
      }
      results.push({ c, measured });
      console.log(JSON.stringify({ case: c.id, measured }));
    }
  } finally {
    await db.drop();
  }
  console.log('');
  console.log(
    '| case | variant | share of quota | calls/s | throttled | max in any 1 s | fetched twice | after the other client stops | seconds measured | what the run had |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const { c, measured } of results) {
    for (const m of measured) {
      const recovery =
        m.recoverySeconds === undefined
          ? ''
          : `${m.recoverySeconds === null ? 'not' : `${m.recoverySeconds} s`} to 0.95 R; then ${(m.recoveredShare! * 100).toFixed(1)}%`;
      console.log(
        `| ${describeCase(c)} | ${VARIANT_NAMES[m.mode]} | ${(m.share * 100).toFixed(1)}% | ${m.callsPerSecond} | ${(m.throttledShare * 100).toFixed(2)}% (${m.throttled}/${m.calls}) | ${m.maxInAnySecond} | ${m.fetchedTwice} | ${recovery} | ${m.seconds} | ${m.check} |`,
      );
    }
  }
  // The PostgreSQL state against the Redis state, case by case, in the same run.
  for (const { c, measured } of results) {
    const redis = measured.find((m) => m.mode === 'controller');
    const postgres = measured.find((m) => m.mode === 'postgres');
    if (!redis || !postgres) continue;
    console.log(
      `${c.id}: PostgreSQL/Redis share ${round(postgres.share / redis.share)}, throttled ${postgres.throttled} vs ${redis.throttled}, max in any 1 s ${postgres.maxInAnySecond} vs ${redis.maxInAnySecond}`,
    );
  }
}
