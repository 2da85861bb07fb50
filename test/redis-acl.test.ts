/**
 * The Redis ACL docs/production.md gives cams-enrich ("Redis") is enough: a user with exactly
 * those rights runs an import, a worker, status and a schedule, and Redis refuses it nothing (its ACL
 * log stays empty). The user is created with the documented command, read from docs/production.md.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pipelineEnv, startCli, startWorkerProcess } from './helpers/processes.js';
import type { RedisServer } from './helpers/redis-servers.js';
import { startRedisServer, stopRedisServers } from './helpers/redis-servers.js';

let p: Pipeline | undefined;
let server: RedisServer;
let admin: Redis;

/** The `ACL SETUSER` line of the Redis section of docs/production.md, with its password placeholder. */
function documentedAclCommand(): string[] {
  const doc = readFileSync(new URL('../docs/production.md', import.meta.url), 'utf8');
  const line = doc.split('\n').find((l) => l.startsWith('ACL SETUSER cams-enrich '));
  if (!line) throw new Error('docs/production.md has no "ACL SETUSER cams-enrich …" line');
  return line.trim().split(/\s+/).slice(1);
}

beforeAll(async () => {
  assertBuilt();
  server = await startRedisServer();
  admin = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  const [, ...rules] = documentedAclCommand();
  await admin.call('ACL', 'SETUSER', ...rules.map((r) => (r === '>PASSWORD' ? '>acl-test-password' : r)));
});

afterEach(killAll);

afterAll(async () => {
  await p?.close();
  admin?.disconnect();
  await stopRedisServers();
});

describe('a Redis user with exactly the rights docs/production.md lists', () => {
  it('runs an import, a worker, status and a schedule, and Redis refuses it nothing', async () => {
    p = await startPipeline({ rate: 50 });
    const env = pipelineEnv(p, {
      REDIS_URL: `redis://cams-enrich:acl-test-password@127.0.0.1:${server.port}`,
      CAMS_RATE_LIMIT: '50',
    });
    const numbers = Array.from({ length: 20 }, (_, i) => `+4479${String(50_000_000 + i * 53).slice(-8)}`);
    const file = await p.csv('acl.csv', 'phone\n' + numbers.join('\n') + '\n');
    const worker = startWorkerProcess(p, { rate: 50, env: { REDIS_URL: env.REDIS_URL } });
    const schedule = startCli(
      ['schedule', 'add', 'nightly', '--cron', '0 2 * * *', '--', 'refresh', '--older-than', '7d'],
      env,
    );
    expect((await schedule.exited).code, schedule.stderr()).toBe(0);
    const imported = startCli(['import', file, '--space', 'S1', '--wait', '--json'], env);
    expect((await imported.exited).code, imported.stderr()).toBe(0);
    const status = startCli(['status', '--json'], env);
    expect((await status.exited).code, status.stderr()).toBe(0);
    const [run] = (JSON.parse(status.stdout()) as { runs: Array<{ enriched: number; pending: number }> })
      .runs;
    expect(run).toMatchObject({ enriched: 20, pending: 0 });
    const list = startCli(['schedule', 'list', '--json'], env);
    expect((await list.exited).code, list.stderr()).toBe(0);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.stderr()).toBe(0);
    // Not one command refused, on any path these took (ACL LOG lists every denial).
    expect(await admin.call('ACL', 'LOG')).toEqual([]);
  });
});
