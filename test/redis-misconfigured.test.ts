/**
 * A Redis that is there but misconfigured for us (a wrong or missing password, a user without a needed
 * command, a certificate nobody trusts, `redis://` to a TLS port, a replica) is named as such: exit 2
 * naming REDIS_URL and the fix, in a few lines, from every command that opens Redis. A Redis that is not
 * there makes a worker wait for it (bounded, and cut short by SIGTERM), then exit 1. A Redis that may
 * evict keys is reported once in the log and in `status`. Every command opens Redis through
 * `connectRedis`: the whole set of cases is checked on it in-process, and a few through real commands.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { connectRedis, createRedis } from '../src/queue/queue.js';
import { useMigratedDatabase } from './helpers/database.js';
import type { CliProcess } from './helpers/processes.js';
import { assertBuilt, killAll, startCli, waitFor } from './helpers/processes.js';
import type { RedisServer } from './helpers/redis-servers.js';
import {
  freePort,
  selfSignedCertificate,
  startRedisServer,
  stopRedisServers,
} from './helpers/redis-servers.js';
import { testQueueName } from './helpers/services.js';

const log = createLogger({ level: 'silent' });
const ledger = useMigratedDatabase(log, 2);

let withPassword: RedisServer;
let withAcl: RedisServer;
let withAclInfo: RedisServer;
let replica: RedisServer;
let tls: RedisServer;

beforeAll(async () => {
  assertBuilt();
  const cert = await selfSignedCertificate();
  const primary = await startRedisServer();
  [withPassword, withAcl, withAclInfo, replica, tls] = await Promise.all([
    startRedisServer(['--requirepass', 'right-password']),
    // The usual "everything but the dangerous commands": INFO is one of those.
    startRedisServer(['--user', 'cams', 'on', '>user-password', '~*', '&*', '+@all', '-@dangerous']),
    // INFO given back, scripts (which status runs) not: refused after connecting.
    startRedisServer([
      '--user',
      'cams',
      'on',
      '>user-password',
      '~*',
      '&*',
      '+@all',
      '-@dangerous',
      '+info',
      '-@scripting',
    ]),
    startRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]),
    startRedisServer([], { tls: cert }),
  ]);
});

afterEach(killAll);
afterAll(stopRedisServers);

function env(redisUrl: string, over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REDIS_URL: redisUrl,
    DATABASE_URL: ledger.db.url,
    CAMS_QUEUE: testQueueName(),
    // Nothing is called: the commands stop before any CAMS call.
    CAMS_ENDPOINT: '127.0.0.1:9',
    CAMS_PROTOCOL: 'http',
    ALIBABA_CLOUD_ACCESS_KEY_ID: 'test-id',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'test-secret',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    ...over,
  };
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

async function expectNamed(p: CliProcess, names: string): Promise<void> {
  const exit = await p.exited;
  const stderr = p.stderr();
  expect(exit.code, stderr).toBe(2);
  expect(stderr).toContain('REDIS_URL');
  expect(stderr).toContain(names);
  expect(lines(stderr).length, stderr).toBeLessThan(20);
  expect(stderr).not.toContain('right-password');
  expect(stderr).not.toContain('user-password');
}

describe('a misconfigured REDIS_URL', () => {
  const cases: Array<{ name: string; url: () => string; names: string }> = [
    {
      name: 'a wrong password (WRONGPASS)',
      url: () => `redis://:wrong-password@127.0.0.1:${withPassword.port}`,
      names: 'WRONGPASS',
    },
    {
      name: 'no password where one is required (NOAUTH)',
      url: () => `redis://127.0.0.1:${withPassword.port}`,
      names: 'NOAUTH',
    },
    {
      name: 'an unknown ACL user (WRONGPASS)',
      url: () => `redis://nobody:user-password@127.0.0.1:${withAcl.port}`,
      names: 'WRONGPASS',
    },
    {
      name: 'an ACL user without INFO (NOPERM)',
      url: () => `redis://cams:user-password@127.0.0.1:${withAcl.port}`,
      names: 'NOPERM',
    },
    {
      name: 'a TLS certificate the process does not trust',
      url: () => `rediss://localhost:${tls.port}`,
      names: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    },
    { name: 'redis:// to a TLS port', url: () => `redis://127.0.0.1:${tls.port}`, names: 'rediss://' },
    {
      name: 'rediss:// to a plain-text port',
      url: () => `rediss://:right-password@127.0.0.1:${withPassword.port}`,
      names: 'this port does not speak TLS',
    },
    { name: 'a read-only replica', url: () => `redis://127.0.0.1:${replica.port}`, names: 'replica' },
  ];

  it.each(cases)(
    '$name: exit 2 naming REDIS_URL and the fix, for a worker and a producer connection',
    async ({ url, names }) => {
      for (const role of ['worker', 'producer'] as const) {
        const redis = createRedis(url(), role, log);
        try {
          const err = await connectRedis(redis, url(), { timeoutMs: 15_000 }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isAppError(err) && err.exitCode, String(err)).toBe(2);
          expect((err as Error).message).toContain('REDIS_URL');
          expect((err as Error).message).toContain(names);
        } finally {
          redis.disconnect();
        }
      }
    },
  );

  it('stops a worker, status and an import with exit 2 and a few lines, before any run is made', async () => {
    const csv = 'phone\n+8613800001234\n';
    const processes: Array<[CliProcess, string]> = [
      [startCli(['worker'], env(`redis://cams:user-password@127.0.0.1:${withAcl.port}`)), 'NOPERM'],
      [startCli(['status'], env(`rediss://localhost:${tls.port}`)), 'DEPTH_ZERO_SELF_SIGNED_CERT'],
      [
        startCli(
          ['import', '-', '--space', 'S1'],
          env(`redis://127.0.0.1:${replica.port}`),
          Buffer.from(csv),
        ),
        'replica',
      ],
    ];
    processes.push([
      startCli(['worker'], env(`rediss://127.0.0.1:${replica.port}`)),
      'this port does not speak TLS',
    ]);
    processes.push([
      startCli(['status'], env(`redis://cams:user-password@127.0.0.1:${withAclInfo.port}`)),
      'may not run a command cams-enrich needs (NOPERM',
    ]);
    for (const [p, names] of processes) await expectNamed(p, names);
    // The import stopped before it created a run: nothing to clean up, nothing half done.
    const { rows } = await ledger.pool.query<{ n: string }>('SELECT count(*) AS n FROM cams_enrich.runs');
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

describe('a Redis that does not answer', () => {
  it('makes a worker exit 1 after REDIS_READY_TIMEOUT_MS, naming REDIS_URL', async () => {
    const port = await freePort();
    const w = startCli(['worker'], env(`redis://127.0.0.1:${port}`, { REDIS_READY_TIMEOUT_MS: '1500' }));
    const exit = await w.exited;
    expect(exit.code, w.stderr()).toBe(1);
    expect(w.stderr()).toContain('not reachable');
    expect(w.stderr()).toContain('REDIS_URL');
    // ioredis retries every few hundred ms: the same refusal is logged once, not once per retry.
    expect(lines(w.stderr()).filter((l) => l.includes('ECONNREFUSED')).length).toBeLessThanOrEqual(2);
  });

  it('lets a waiting worker stop at once on SIGTERM, long before its start-up wait ends', async () => {
    const port = await freePort();
    // The default wait of 60 s: only the signal can end this one within the check below.
    const w = startCli(['worker'], env(`redis://127.0.0.1:${port}`));
    await waitFor('the worker waiting for Redis', 30_000, () => w.stderr().includes('ECONNREFUSED'));
    w.child.kill('SIGTERM');
    const exit = await waitFor('the worker to exit', 20_000, async () =>
      w.child.exitCode !== null ? await w.exited : undefined,
    );
    expect(exit.code, w.stderr()).toBe(1);
    expect(w.stderr()).toContain('interrupted while waiting for Redis');
  });
});

describe('a Redis that may evict keys', () => {
  it('is one structured warning in the worker log and a warning in status', async () => {
    const evicting = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    const url = `redis://127.0.0.1:${evicting.port}`;
    const w = startCli(['worker'], env(url));
    await waitFor('the worker to start', 30_000, () => w.stderr().includes('worker started'));
    w.child.kill('SIGTERM');
    expect((await w.exited).code, w.stderr()).toBe(0);
    const warnings = lines(w.stderr())
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; redis?: { maxmemoryPolicy?: string }; msg: string })
      .filter((entry) => entry.redis?.maxmemoryPolicy === 'allkeys-lru');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.level).toBe(40);
    expect(warnings[0]!.msg).toContain('noeviction');
    // BullMQ's own line (`IMPORTANT! Eviction policy is …`, printed by each of its connections) is not
    // there: the structured warning is the only line that speaks of the policy.
    const aboutPolicy = (text: string) => lines(text).filter((l) => /eviction|maxmemory/i.test(l));
    expect(aboutPolicy(w.stderr()), w.stderr()).toHaveLength(1);
    expect(aboutPolicy(w.stdout()), w.stdout()).toEqual([]);

    const text = startCli(['status'], env(url));
    expect((await text.exited).code, text.stderr()).toBe(0);
    // status, too, logs the structured warning once, and BullMQ's queue adds no line of its own.
    expect(aboutPolicy(text.stderr()), text.stderr()).toHaveLength(1);
    expect(aboutPolicy(text.stderr())[0]).toMatch(/^\{.*"maxmemoryPolicy":"allkeys-lru"/);
    expect(text.stdout()).toMatch(/WARNING: Redis maxmemory-policy is allkeys-lru.*noeviction/);
    const json = startCli(['status', '--json'], env(url));
    expect((await json.exited).code, json.stderr()).toBe(0);
    const parsed = JSON.parse(json.stdout()) as { warnings?: string[] };
    expect(parsed.warnings?.[0]).toContain('allkeys-lru');
  });
});
