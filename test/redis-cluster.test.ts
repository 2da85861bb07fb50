/**
 * cams-enrich on a real Redis Cluster of three masters (started here from `redis-server`), as users
 * run it: `REDIS_CLUSTER=true` and `REDIS_URL` naming one node. Every key lives under a hash tag (the
 * queue's, or the account's for the rate controller), so each script and transaction stays on one
 * node, and a run is worked through as on a single server. Then as production runs one: nodes that
 * speak only TLS, with a certificate made here by openssl and trusted through NODE_EXTRA_CA_CERTS, and
 * an ACL user the only login (`REDIS_URL=rediss://user:password@node`): a run, `status` and the
 * dashboard's `/metrics` and `/api/runs`, the password shown nowhere.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import type { Pool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { runStatus } from '../src/runs/status.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { Simulator } from '../src/simulator/simulator.js';
import { assertBuilt, killAll, startCli, waitFor } from './helpers/processes.js';
import type { CliProcess } from './helpers/processes.js';
import { startRedisCluster } from './helpers/redis-cluster.js';
import type { RedisCluster } from './helpers/redis-cluster.js';
import { freePort, selfSignedCertificate, stopRedisServers } from './helpers/redis-servers.js';
import { createTestDatabase, testQueueName } from './helpers/services.js';
import type { TestDatabase } from './helpers/services.js';

const KEY = { accessKeyId: 'LTAIclusterTestKey01', accessKeySecret: 'cluster-test-secret-01' };
const USER = { name: 'cams', password: 'cluster-user-password' };

let cluster: RedisCluster | undefined;
let db: TestDatabase | undefined;
let pool: Pool | undefined;
let sim: Simulator | undefined;
let dir: string | undefined;

beforeAll(async () => {
  assertBuilt();
  cluster = await startRedisCluster();
  db = await createTestDatabase({ migrated: true });
  const log = createLogger({ level: 'silent' });
  pool = createPool(db.url, log, { max: 4 });
  await migrate(pool, log);
  sim = await startSimulator({ ...KEY, rate: 50 });
  dir = await mkdtemp(join(tmpdir(), 'cams-enrich-cluster-test-'));
}, 60_000);

afterAll(async () => {
  await killAll();
  await sim?.close();
  await pool?.end();
  await db?.drop();
  await cluster?.stop();
  await stopRedisServers();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every key of every master. */
async function clusterKeys(ports: number[]): Promise<string[]> {
  const keys: string[] = [];
  for (const port of ports) {
    const node = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    try {
      await node.connect();
      for await (const batch of node.scanStream({ count: 500 }) as AsyncIterable<string[]>)
        keys.push(...batch);
    } finally {
      node.disconnect();
    }
  }
  return keys;
}

/** The environment of a command on `url` (a node of a cluster) with the test's ledger and simulator. */
function clusterEnv(url: string, queue: string, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REDIS_URL: url,
    REDIS_CLUSTER: 'true',
    DATABASE_URL: db!.url,
    CAMS_QUEUE: queue,
    CAMS_ENDPOINT: sim!.endpoint,
    CAMS_PROTOCOL: 'http',
    CAMS_RATE_LIMIT: '50',
    ALIBABA_CLOUD_ACCESS_KEY_ID: KEY.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEY.accessKeySecret,
    ...extra,
  };
}

/**
 * Imports `numbers` with `env` and works the run with two worker processes until it is finished: every
 * number enriched, each answered once by the simulator (its counters reset first).
 */
async function importAndWork(env: NodeJS.ProcessEnv, numbers: string[], name: string) {
  sim!.resetCounters();
  const file = join(dir!, name);
  await writeFile(file, 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n');
  const imported = startCli(['import', file, '--space', 'S1'], env);
  const { code } = await imported.exited;
  expect(imported.stderr()).not.toMatch(/MOVED|CROSSSLOT/);
  expect(code, imported.stderr()).toBe(0);
  const runId = Number(/run (\d+)/.exec(imported.stdout())?.[1]);
  expect(runId).toBeGreaterThan(0);

  const workers = [startCli(['worker'], env), startCli(['worker'], env)];
  const finished = await waitFor('the run to finish', 120_000, async () => {
    const s = await runStatus(pool!, runId);
    return s.finished ? s : undefined;
  });
  const total = numbers.length;
  expect(finished).toMatchObject({ total, enriched: total, failed: 0, pending: 0 });
  const c = sim!.counters();
  expect(Object.keys(c.okByNumber).sort()).toEqual([...numbers].sort());
  expect(Object.values(c.okByNumber).filter((n) => n !== 1)).toEqual([]);
  return { runId, imported, workers };
}

describe('a Redis Cluster', () => {
  it('works a 300-number run with two workers: all enriched, each called once, every key under a hash tag', async () => {
    const queue = testQueueName();
    const env = clusterEnv(cluster!.url, queue, { LOG_LEVEL: 'warn' });
    const numbers = Array.from({ length: 300 }, (_, i) => `4479${String(30_000_000 + i * 53).slice(-8)}`);
    const { runId, workers } = await importAndWork(env, numbers, 'cluster.csv');

    const status = startCli(['status', '--run', String(runId), '--json'], env);
    expect((await status.exited).code).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({
      enriched: 300,
      limiter: { quota: 50, quotaStored: true },
    });

    // Every key under a hash tag: the queue's (BullMQ's, the schedules queue's, the metrics', the
    // queue's account) or the account's (the rate controller's).
    const keys = await clusterKeys(cluster!.ports);
    expect(keys.length).toBeGreaterThan(0);
    const untagged = keys.filter(
      (k) => !k.startsWith(`{${queue}}:`) && !/^cams-enrich:\{acct:[^}]+\}:/.test(k),
    );
    expect(untagged).toEqual([]);
    expect(keys.some((k) => k.startsWith(`{${queue}}:${queue}-schedules:`))).toBe(true);
    expect(keys.some((k) => k.startsWith('cams-enrich:{acct:'))).toBe(true);

    for (const w of workers) w.child.kill('SIGTERM');
    const codes = await Promise.all(workers.map(async (w) => (await w.exited).code));
    expect(codes).toEqual([0, 0]);
    for (const w of workers) expect(w.stderr()).not.toMatch(/MOVED|CROSSSLOT/);
  }, 180_000);
});

const leaks = (p: CliProcess) => `${p.stdout()}${p.stderr()}`.includes(USER.password);

describe('a Redis Cluster with TLS and an ACL user', () => {
  let secure: RedisCluster | undefined;
  let cert: { cert: string; key: string } | undefined;

  beforeAll(async () => {
    cert = await selfSignedCertificate({ loopbackIp: true });
    secure = await startRedisCluster({ tls: cert, user: USER });
  }, 60_000);

  afterAll(async () => {
    await killAll();
    await secure?.stop();
  });

  it('works a run with two workers, and status and the dashboard read it, the password shown nowhere', async () => {
    expect(secure!.url).toMatch(/^rediss:\/\/cams:/);
    const queue = testQueueName();
    const env = clusterEnv(secure!.url, queue, {
      NODE_EXTRA_CA_CERTS: cert!.cert,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
    const numbers = Array.from({ length: 100 }, (_, i) => `4479${String(40_000_000 + i * 59).slice(-8)}`);
    const { runId, imported, workers } = await importAndWork(env, numbers, 'cluster-tls.csv');
    // Stopped gracefully, each worker keeps its counters in the fleet's total for the dashboard.
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map(async (w) => (await w.exited).code))).toEqual([0, 0]);

    const status = startCli(['status', '--run', String(runId), '--json'], env);
    expect((await status.exited).code, status.stderr()).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({ enriched: 100, limiter: { quota: 50 } });

    const port = await freePort();
    const dashboard = startCli(['dashboard', '--port', String(port)], env);
    const base = `http://127.0.0.1:${port}`;
    const metrics = await waitFor('the dashboard to answer', 30_000, async () => {
      const res = await fetch(`${base}/metrics`).catch(() => undefined);
      return res?.status === 200 ? res.text() : undefined;
    });
    expect(metrics).toContain('cams_enrich_cams_calls_total{code="OK"} 100');
    expect(metrics).toContain('cams_enrich_cams_call_outcomes_total{outcome="enriched"} 100');
    expect(metrics).toContain('cams_enrich_quota_per_second 50');
    const runs = await fetch(`${base}/api/runs`);
    expect(runs.status).toBe(200);
    const view = (await runs.json()) as { runs: Array<{ run: number; enriched: number }> };
    expect(view.runs.find((r) => r.run === runId)).toMatchObject({ enriched: 100 });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    dashboard.child.kill('SIGTERM');
    expect((await dashboard.exited).code, dashboard.stderr()).toBe(0);

    for (const p of [imported, ...workers, status, dashboard]) {
      expect(p.stderr()).not.toMatch(/MOVED|CROSSSLOT/);
      expect(leaks(p)).toBe(false);
    }
  }, 180_000);
});
