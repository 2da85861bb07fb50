/**
 * `npm run bench -- single-box`: the queue on PostgreSQL measured from outside, with whatever
 * environment the bench is given: DATABASE_URL unset means the embedded server (under a temporary
 * CAMS_DATA_DIR, stopped and removed at the end), DATABASE_URL set means that server (a database
 * `cams_bench_<random>` is created and migrated there, and dropped); REDIS_URL is passed on as it is
 * (unset: the queue on PostgreSQL). Real `cams-enrich import` and `cams-enrich worker` processes work against the
 * simulator at R = 10 calls per second (a strict sliding one-second window per AccessKey):
 *
 * 1. `import` of BENCH_NUMBERS numbers (default 2000) and two `worker` processes: numbers enriched of
 *    the total, the quota used from the first call to the last (whole seconds between them), the
 *    throttled share, the most calls admitted in any sliding 1 s, and the numbers fetched twice.
 * 2. The same with one of the two workers killed with kill -9 when half the numbers are enriched, and a
 *    replacement started: the run's accounting at the end (`cams-enrich status --run ID --json`: nothing
 *    pending, nothing left in the queue), the numbers the simulator never answered, and how many were
 *    called twice (a call in flight at the kill may be repeated).
 *
 * Inside a network namespace with nothing listening (`unshare -n sh -c 'ip link set lo up; …'`) as
 * root, the embedded server runs as `nobody`: the temporary data directory is made reachable for it.
 * Environment: BENCH_NUMBERS, BENCH_LATENCY_MS (the simulator's answer time, default 80).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { redactUrl } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { runStatus } from '../src/runs/status.js';
import type { Simulator } from '../src/simulator/simulator.js';
import { startSimulator } from '../src/simulator/simulator.js';
import { runCli, startWorker, stopWorkers } from './cli-processes.js';
import { benchDatabase } from './throughput-support.js';

const R = 10;
const NUMBERS = Number(process.env.BENCH_NUMBERS ?? 2000);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 80);
const log = createLogger({ level: 'silent' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(', ');

/** Where the bench runs: the environment of its commands and the ledger they share. */
interface Box {
  /** What the figures were measured on, for the report. */
  setup: string;
  env: NodeJS.ProcessEnv;
  /** The ledger's URL, once the first command made it (the embedded server starts with it). */
  databaseUrl: string;
  dir: string;
  close(): Promise<void>;
}

async function openBox(): Promise<Box> {
  const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-single-box-'));
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  const store = env.REDIS_URL
    ? `the queue in Redis at ${redactUrl(env.REDIS_URL)}`
    : 'the queue on PostgreSQL';
  if (!env.DATABASE_URL) {
    // As root the embedded server runs as nobody, which must pass through the temporary directory.
    if (process.getuid?.() === 0) await chmod(dir, 0o755);
    env.CAMS_DATA_DIR = join(dir, 'data');
    const config = loadConfig(env);
    return {
      setup: `embedded PostgreSQL in ${env.CAMS_DATA_DIR}, ${store}`,
      env,
      databaseUrl: config.databaseUrl,
      dir,
      async close() {
        const stopped = await runCli(['embedded', 'stop'], env);
        if (stopped.code !== 0) process.stderr.write(`embedded stop: ${stopped.stderr}`);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const db = await benchDatabase(log);
  env.DATABASE_URL = db.url;
  return {
    setup: `DATABASE_URL ${redactUrl(db.url)}, ${store}`,
    env,
    databaseUrl: db.url,
    dir,
    async close() {
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The quota used from the first call to the last: the whole seconds between them, partial ones left out. */
function quotaUsed(perSecond: number[]): { share: number; seconds: number } {
  const first = perSecond.findIndex((n) => n > 0);
  const last = perSecond.length - 1 - [...perSecond].reverse().findIndex((n) => n > 0);
  const inner = perSecond.slice(first + 1, last);
  return {
    share: inner.length === 0 ? 1 : inner.reduce((a, b) => a + b, 0) / (inner.length * R),
    seconds: inner.length,
  };
}

interface Figures {
  case: string;
  enriched: string;
  quotaUsed: number;
  secondsMeasured: number;
  throttledShare: number;
  throttled: string;
  maxInAnySecond: number;
  fetchedTwice: number;
  /** The kill case: what was left when the run ended, and what was never answered. */
  killedAtEnriched?: number;
  /** From the kill until nothing was pending: the killed worker's jobs wait for BullMQ's stalled-job check. */
  secondsAfterKill?: number;
  accounting?: string;
  queueLeft?: string;
  neverAnswered?: number;
  load: string;
}

/** One run: import, two workers (one killed at half with `kill`), until nothing is pending. */
async function measure(box: Box, kill: boolean, offset: number): Promise<Figures> {
  const accessKeyId = `LTAIsb${randomBytes(6).toString('hex')}`;
  const accessKeySecret = randomBytes(15).toString('base64url');
  const sim: Simulator = await startSimulator({
    accessKeyId,
    accessKeySecret,
    rate: R,
    faults: LATENCY > 0 ? [{ answer: { kind: 'slow', delayMs: LATENCY } }] : [],
  });
  const env: NodeJS.ProcessEnv = {
    ...box.env,
    CAMS_QUEUE: `bench-single-box-${randomBytes(4).toString('hex')}`,
    CAMS_ENDPOINT: sim.endpoint,
    CAMS_PROTOCOL: 'http',
    CAMS_RATE_LIMIT: String(R),
    ALIBABA_CLOUD_ACCESS_KEY_ID: accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: accessKeySecret,
  };
  const workers: ChildProcess[] = [];
  let pool: Pool | undefined;
  try {
    const numbers = Array.from({ length: NUMBERS }, (_, i) => `86139${String(offset + i).padStart(8, '0')}`);
    const file = join(box.dir, `numbers-${offset}.csv`);
    await writeFile(file, 'phone\n' + numbers.join('\n') + '\n');
    const imported = await runCli(['import', file, '--space', 'bench', '--json'], env);
    if (imported.code !== 0) throw new Error(`import exited ${imported.code}: ${imported.stderr}`);
    const runId = (JSON.parse(imported.stdout) as { run: number }).run;
    pool = createPool(box.databaseUrl, log, { max: 1 });
    const ledger = pool;
    workers.push(startWorker(env), startWorker(env));
    const deadline = performance.now() + (NUMBERS / R) * 3000 + 120_000;
    let killedAtEnriched: number | undefined;
    let killedAt = 0;
    for (;;) {
      const s = await runStatus(ledger, runId);
      if (s.pending === 0) break;
      if (performance.now() > deadline) throw new Error(`run ${runId} not finished: ${JSON.stringify(s)}`);
      if (kill && killedAtEnriched === undefined && s.enriched >= NUMBERS / 2) {
        workers[0]!.kill('SIGKILL');
        killedAtEnriched = s.enriched;
        killedAt = performance.now();
        workers.push(startWorker(env));
      }
      const gone = workers.filter((w, i) => w.exitCode !== null && !(kill && i === 0));
      if (gone.length > 0) throw new Error(`a worker exited with ${gone[0]!.exitCode}`);
      await sleep(250);
    }
    const finishedAt = performance.now();
    const c = sim.counters();
    const used = quotaUsed(c.admittedPerSecond);
    const final = await runCli(['status', '--run', String(runId), '--json'], env);
    if (final.code !== 0) throw new Error(`status exited ${final.code}: ${final.stderr}`);
    const s = JSON.parse(final.stdout) as {
      total: number;
      enriched: number;
      failed: number;
      pending: number;
      invalid: number;
      duplicate: number;
      skipped: number;
      cancelled: number;
      queue: { waiting: number; active: number; delayed: number };
    };
    const figures: Figures = {
      case: kill ? 'kill -9 of one worker at half, a replacement started' : 'two workers',
      enriched: `${s.enriched}/${NUMBERS}`,
      quotaUsed: round(used.share),
      secondsMeasured: used.seconds,
      throttledShare: round(c.throttled / Math.max(1, c.calls), 4),
      throttled: `${c.throttled}/${c.calls}`,
      maxInAnySecond: c.maxCallsInAnyWindow,
      fetchedTwice: Object.values(c.okByNumber).filter((n) => n > 1).length,
      load: load(),
    };
    if (kill) {
      figures.killedAtEnriched = killedAtEnriched;
      figures.secondsAfterKill = round((finishedAt - killedAt) / 1000, 1);
      const settled = s.enriched + s.failed + s.invalid + s.duplicate + s.skipped + s.cancelled;
      figures.accounting = `total ${s.total} = enriched ${s.enriched} + failed ${s.failed} + other ${settled - s.enriched - s.failed}, pending ${s.pending} (${settled === s.total && s.pending === 0 ? 'adds up' : 'DOES NOT ADD UP'})`;
      figures.queueLeft = `waiting ${s.queue.waiting}, active ${s.queue.active}, delayed ${s.queue.delayed}`;
      figures.neverAnswered = numbers.filter((n) => !(n in c.okByNumber)).length;
    }
    return figures;
  } finally {
    await stopWorkers(workers);
    await pool?.end();
    await sim.close();
  }
}

export async function run(): Promise<void> {
  const box = await openBox();
  console.log(
    `single-box bench: ${NUMBERS} numbers, R = ${R}, ${LATENCY} ms simulated CAMS latency, ${box.setup}; load average ${load()}`,
  );
  const results: Figures[] = [];
  try {
    for (const [i, kill] of [false, true].entries()) {
      const figures = await measure(box, kill, (i + 1) * 10_000_000);
      console.log(JSON.stringify(figures));
      results.push(figures);
    }
  } finally {
    await box.close();
  }
  console.log('');
  console.log(
    '| case | enriched | quota used, first call to last | throttled | max calls in any 1 s | fetched twice | load average |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of results) {
    console.log(
      `| ${f.case} | ${f.enriched} | ${f.quotaUsed} (${f.secondsMeasured} s) | ${(f.throttledShare * 100).toFixed(2)}% (${f.throttled}) | ${f.maxInAnySecond} | ${f.fetchedTwice} | ${f.load} |`,
    );
  }
  const killed = results.find((f) => f.accounting !== undefined);
  if (killed) {
    console.log('');
    console.log(
      `kill -9 at ${killed.killedAtEnriched} enriched, the run finished ${killed.secondsAfterKill} s later ` +
        `(its quota figure counts the wait for the killed worker's jobs): ${killed.accounting}; left in the queue: ${killed.queueLeft}; ` +
        `never answered: ${killed.neverAnswered}; called twice: ${killed.fetchedTwice}`,
    );
  }
}
