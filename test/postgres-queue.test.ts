/**
 * The queue on PostgreSQL, from outside: `cams-enrich import` and two `cams-enrich worker` processes
 * with REDIS_URL unset (BullMQ's PostgreSQL backend and the rate controller's state row in the test's
 * own database), against the simulator at 10 calls per second. Every number is enriched once, the
 * strict window is never exceeded, and a worker killed with kill -9 mid-run loses nothing. The ledger
 * records the store it runs with, and a process configured with the other one refuses to start.
 *
 * `PG_QUEUE_NUMBERS` sets the run's size (default 150: 15 s at the quota, the window checked in each
 * of them) for a longer measurement; the figures are printed (quota used from the first call to the
 * last, throttled calls, the busiest second).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import type { Simulator } from '../src/simulator/simulator.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { CliProcess } from './helpers/processes.js';
import { assertBuilt, killAll, startCli, waitFor } from './helpers/processes.js';
import type { TestDatabase } from './helpers/services.js';
import { createTestDatabase } from './helpers/services.js';

const RATE = 10;
const NUMBERS = Number(process.env.PG_QUEUE_NUMBERS ?? 150);
const log = createLogger({ level: 'silent' });
const accessKeyId = `LTAIpg${randomBytes(6).toString('hex')}`;
const accessKeySecret = randomBytes(15).toString('base64url');
let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), 'cams-enrich-pgqueue-'));
});

afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Setup {
  db: TestDatabase;
  pool: Pool;
  sim: Simulator;
  env: NodeJS.ProcessEnv;
}

async function setUp(): Promise<Setup> {
  const db = await createTestDatabase({ migrated: true });
  cleanups.push(() => db.drop());
  const pool = createPool(db.url, log, { max: 2 });
  cleanups.push(() => pool.end());
  await migrate(pool, log);
  const sim = await startSimulator({ accessKeyId, accessKeySecret, rate: RATE });
  cleanups.push(() => sim.close());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    CAMS_QUEUE: `pgq-${randomBytes(4).toString('hex')}`,
    CAMS_ENDPOINT: sim.endpoint,
    CAMS_PROTOCOL: 'http',
    CAMS_RATE_LIMIT: String(RATE),
    ALIBABA_CLOUD_ACCESS_KEY_ID: accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: accessKeySecret,
    LOG_LEVEL: 'warn',
  };
  delete env.REDIS_URL;
  delete env.REDIS_CLUSTER;
  return { db, pool, sim, env };
}

async function exited(p: CliProcess): Promise<number | null> {
  return (await p.exited).code;
}

async function importNumbers(s: Setup, count: number): Promise<number> {
  const numbers = Array.from({ length: count }, (_, i) => `4479${String(30_000_000 + i * 13).slice(-8)}`);
  const file = join(dir, `n-${randomBytes(3).toString('hex')}.csv`);
  await writeFile(file, 'phone\n' + numbers.join('\n') + '\n');
  const p = startCli(['import', file, '--space', 'S1', '--json'], s.env);
  expect(await exited(p), p.stderr()).toBe(0);
  return (JSON.parse(p.stdout()) as { run: number }).run;
}

async function runState(pool: Pool, runId: number) {
  const { rows } = await pool.query<{ pending: string; enriched: string; failed: string }>(
    'SELECT pending, enriched, failed FROM runs WHERE id = $1',
    [runId],
  );
  const r = rows[0]!;
  return { pending: Number(r.pending), enriched: Number(r.enriched), failed: Number(r.failed) };
}

/** The quota used from the first call to the last: the whole seconds between them, partial ones left out. */
function quotaUsed(perSecond: number[]): number {
  const first = perSecond.findIndex((n) => n > 0);
  const last = perSecond.length - 1 - [...perSecond].reverse().findIndex((n) => n > 0);
  const inner = perSecond.slice(first + 1, last);
  return inner.length === 0 ? 1 : inner.reduce((a, b) => a + b, 0) / (inner.length * RATE);
}

describe('the queue on PostgreSQL (REDIS_URL unset)', () => {
  it(
    `enriches ${NUMBERS} numbers once with two workers, at the quota, never over the window`,
    async () => {
      const s = await setUp();
      const runId = await importNumbers(s, NUMBERS);
      const workers = [startCli(['worker'], s.env), startCli(['worker'], s.env)];
      await waitFor('the run to finish', NUMBERS * 400 + 60_000, async () => {
        for (const w of workers)
          if (w.child.exitCode !== null) throw new Error(`a worker exited: ${w.stderr()}`);
        return (await runState(s.pool, runId)).pending === 0;
      });
      expect(await runState(s.pool, runId)).toEqual({ pending: 0, enriched: NUMBERS, failed: 0 });
      const c = s.sim.counters();
      const fetchedTwice = Object.values(c.okByNumber).filter((n) => n > 1).length;
      const figures = {
        numbers: NUMBERS,
        quotaUsed: Number(quotaUsed(c.admittedPerSecond).toFixed(3)),
        throttledShare: Number((c.throttled / c.calls).toFixed(4)),
        maxCallsInAnyWindow: c.maxCallsInAnyWindow,
        fetchedTwice,
      };
      process.stdout.write(`postgres queue figures: ${JSON.stringify(figures)}\n`);
      expect(Object.keys(c.okByNumber)).toHaveLength(NUMBERS);
      expect(fetchedTwice).toBe(0);
      expect(c.maxCallsInAnyWindow).toBeLessThanOrEqual(RATE);
      // A graceful stop: both exit 0.
      for (const w of workers) w.child.kill('SIGTERM');
      for (const w of workers) expect(await exited(w), w.stderr()).toBe(0);
    },
    NUMBERS * 400 + 120_000,
  );

  it('loses nothing when a worker is killed with kill -9 mid-run', async () => {
    const s = await setUp();
    const count = Math.min(NUMBERS, 200);
    const runId = await importNumbers(s, count);
    const [victim, survivor] = [startCli(['worker'], s.env), startCli(['worker'], s.env)];
    await waitFor(
      'a quarter of the run',
      120_000,
      async () => (await runState(s.pool, runId)).enriched >= count / 4,
    );
    victim.child.kill('SIGKILL');
    await waitFor('the run to finish', count * 400 + 90_000, async () => {
      if (survivor.child.exitCode !== null) throw new Error(`the other worker exited: ${survivor.stderr()}`);
      return (await runState(s.pool, runId)).pending === 0;
    });
    expect(await runState(s.pool, runId)).toEqual({ pending: 0, enriched: count, failed: 0 });
    const c = s.sim.counters();
    expect(Object.keys(c.okByNumber)).toHaveLength(count);
    // Only the calls in flight at the kill (at most the victim's concurrency) may have been repeated.
    expect(Object.values(c.okByNumber).filter((n) => n > 1).length).toBeLessThanOrEqual(4);
    expect(c.maxCallsInAnyWindow).toBeLessThanOrEqual(RATE);
  }, 300_000);

  it('records the store in the ledger; a process configured with the other one exits 2 saying what to set', async () => {
    const s = await setUp();
    // The first process records the PostgreSQL store.
    const first = startCli(['resume'], s.env);
    expect(await exited(first), first.stderr()).toBe(0);
    expect((await s.pool.query('SELECT store FROM queue_store')).rows).toEqual([{ store: 'postgres' }]);
    // REDIS_URL set: refused before any connection to Redis is tried.
    const redis = startCli(['resume'], { ...s.env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await exited(redis)).toBe(2);
    expect(redis.stderr()).toMatch(/runs its queue on PostgreSQL.*unset REDIS_URL/);
    const worker = startCli(['worker'], { ...s.env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await exited(worker)).toBe(2);

    // A ledger that runs with Redis refuses a process without REDIS_URL.
    await s.pool.query(`UPDATE queue_store SET store = 'redis'`);
    const pg = startCli(['worker'], s.env);
    expect(await exited(pg)).toBe(2);
    expect(pg.stderr()).toMatch(/runs its queue on Redis.*set REDIS_URL/);
  });
});
