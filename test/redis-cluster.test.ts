/**
 * cams-enrich on a real Redis Cluster of three masters (started here from `redis-server`), as users
 * run it: `REDIS_CLUSTER=true` and `REDIS_URL` naming one node. Every key lives under a hash tag (the
 * queue's, or the account's for the rate controller), so each script and transaction stays on one
 * node, and a run is worked through as on a single server.
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
import { startRedisCluster } from './helpers/redis-cluster.js';
import type { RedisCluster } from './helpers/redis-cluster.js';
import { createTestDatabase, testQueueName } from './helpers/services.js';
import type { TestDatabase } from './helpers/services.js';

const KEY = { accessKeyId: 'LTAIclusterTestKey01', accessKeySecret: 'cluster-test-secret-01' };

let cluster: RedisCluster | undefined;
let db: TestDatabase | undefined;
let pool: Pool | undefined;
let sim: Simulator | undefined;
let dir: string | undefined;

beforeAll(async () => {
  assertBuilt();
  cluster = await startRedisCluster();
  db = await createTestDatabase();
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

describe('a Redis Cluster', () => {
  it('works a 300-number run with two workers: all enriched, each called once, every key under a hash tag', async () => {
    const queue = testQueueName();
    const env = {
      ...process.env,
      REDIS_URL: cluster!.url,
      REDIS_CLUSTER: 'true',
      DATABASE_URL: db!.url,
      CAMS_QUEUE: queue,
      CAMS_ENDPOINT: sim!.endpoint,
      CAMS_PROTOCOL: 'http',
      CAMS_RATE_LIMIT: '50',
      ALIBABA_CLOUD_ACCESS_KEY_ID: KEY.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEY.accessKeySecret,
      LOG_LEVEL: 'warn',
    };
    const numbers = Array.from({ length: 300 }, (_, i) => `4479${String(30_000_000 + i * 53).slice(-8)}`);
    const file = join(dir!, 'cluster.csv');
    await writeFile(file, 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n');

    const imported = startCli(['import', file, '--space', 'S1'], env);
    const { code } = await imported.exited;
    expect(imported.stderr()).not.toMatch(/MOVED|CROSSSLOT/);
    expect(code).toBe(0);
    const runId = Number(/run (\d+)/.exec(imported.stdout())?.[1]);
    expect(runId).toBeGreaterThan(0);

    const workers = [startCli(['worker'], env), startCli(['worker'], env)];
    const finished = await waitFor('the run to finish', 120_000, async () => {
      const s = await runStatus(pool!, runId);
      return s.finished ? s : undefined;
    });
    expect(finished).toMatchObject({ total: 300, enriched: 300, failed: 0, pending: 0 });
    const c = sim!.counters();
    expect(Object.keys(c.okByNumber).sort()).toEqual([...numbers].sort());
    expect(Object.values(c.okByNumber).filter((n) => n !== 1)).toEqual([]);

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
