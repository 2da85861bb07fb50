/**
 * `npm run bench`: throughput and throttling of the worker fleet against the simulator's strict
 * sliding one-second window, for cams-enrich's limiter shape and, as the reference measured in the same
 * run, BullMQ's stock `{max: rate, duration: 1000}`. Results are ratios, so they compare across machines.
 *
 * Environment: BENCH_NUMBERS (per variant, default 300), BENCH_RATE (default 10), BENCH_WORKERS
 * (in-process workers, default 2), BENCH_LATENCY_MS (simulated CAMS latency, default 80), and the usual
 * REDIS_URL / DATABASE_URL (a database `cams_bench_<random>` is created there and dropped).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RateLimiterOptions } from 'bullmq';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { startLocalStack } from '../src/local-stack.js';
import { createLogger } from '../src/log.js';
import { limiterFor } from '../src/queue/queue.js';
import { importCsv } from '../src/runs/csv-import.js';
import { runStatus } from '../src/runs/status.js';

const N = Number(process.env.BENCH_NUMBERS ?? 300);
const RATE = Number(process.env.BENCH_RATE ?? 10);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 80);

interface Result {
  variant: string;
  limiter: RateLimiterOptions;
  callWindow: boolean;
  numbers: number;
  seconds: number;
  callsPerSecond: number;
  quotaUsed: number;
  calls: number;
  throttled: number;
  throttledShare: number;
  maxInAnySecond: number;
  fetchedTwice: number;
}

async function measure(
  variant: string,
  limiter: RateLimiterOptions,
  callWindow: boolean,
  databaseUrl: string,
  offset: number,
): Promise<Result> {
  const config = loadConfig();
  const log = createLogger({ level: 'silent' });
  const pool = createPool(databaseUrl, log, { max: 4 + WORKERS * 2 });
  await migrate(pool, log);
  const queueName = `bench-${randomBytes(6).toString('hex')}`;
  const stack = await startLocalStack({
    pool,
    log,
    redisUrl: config.redisUrl,
    queueName,
    rate: RATE,
    simulator: { faults: LATENCY > 0 ? [{ answer: { kind: 'slow', delayMs: LATENCY } }] : [] },
    worker: { attempts: 6, limiter, callWindow },
  });
  const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-bench-'));
  const file = join(dir, 'numbers.csv');
  const numbers = Array.from(
    { length: N },
    (_, i) => `86139${String(10_000_000 + offset + i * 13).slice(-8)}`,
  );
  await writeFile(file, 'phone\n' + numbers.join('\n') + '\n');
  const { runId } = await importCsv(pool, log, { file, queue: queueName, space: 'bench', maxAgeMs: 0 });
  await stack.feed();

  const started = Date.now();
  stack.startWorkers(WORKERS);
  for (;;) {
    const s = await runStatus(pool, runId);
    if (s.finished) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (Date.now() - started) / 1000;
  const c = stack.sim.counters();
  await stack.close({ discardQueue: true });
  await pool.end();
  await rm(dir, { recursive: true, force: true });
  const callsPerSecond = c.ok / seconds;
  return {
    variant,
    limiter,
    callWindow,
    numbers: N,
    seconds: Math.round(seconds * 10) / 10,
    callsPerSecond: Math.round(callsPerSecond * 100) / 100,
    quotaUsed: Math.round((callsPerSecond / RATE) * 1000) / 1000,
    calls: c.calls,
    throttled: c.throttled,
    throttledShare: Math.round((c.throttled / Math.max(1, c.calls)) * 1000) / 1000,
    maxInAnySecond: c.maxCallsInAnyWindow,
    fetchedTwice: Object.values(c.okByNumber).filter((n) => n > 1).length,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const dbName = `cams_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: config.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(config.databaseUrl);
  url.pathname = `/${dbName}`;
  try {
    console.log(
      `bench: ${N} numbers per variant, quota ${RATE}/s, ${WORKERS} workers, ${LATENCY} ms simulated latency`,
    );
    const stock = { max: RATE, duration: 1000 };
    const reference = await measure('BullMQ stock limiter (reference)', stock, false, url.toString(), 0);
    const shapeOnly = await measure(
      'limiterFor(rate) alone',
      limiterFor(RATE),
      false,
      url.toString(),
      2_500_000,
    );
    const windowOnly = await measure('stock limiter + call window', stock, true, url.toString(), 3_700_000);
    const ours = await measure('cams-enrich as shipped', limiterFor(RATE), true, url.toString(), 5_000_000);
    console.log('');
    console.log(
      '| variant | limiter | call window | calls/s | share of quota | throttled share | max calls in any 1 s | fetched twice |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of [reference, shapeOnly, windowOnly, ours]) {
      console.log(
        `| ${r.variant} | max ${r.limiter.max} / ${r.limiter.duration} ms | ${r.callWindow ? 'yes' : 'no'} | ${r.callsPerSecond} | ${(r.quotaUsed * 100).toFixed(1)}% | ${(r.throttledShare * 100).toFixed(1)}% (${r.throttled}/${r.calls}) | ${r.maxInAnySecond} | ${r.fetchedTwice} |`,
      );
    }
    console.log('');
    console.log(
      `ratio of useful throughput, cams-enrich / reference: ${(ours.callsPerSecond / reference.callsPerSecond).toFixed(2)}`,
    );
    console.log(JSON.stringify({ reference, shapeOnly, windowOnly, ours }));
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
