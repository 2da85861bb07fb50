/**
 * Two `cams-enrich worker` processes (the built CLI, as users run it) share one queue and one rate
 * limit against a simulator that counts with a strict sliding one-second window.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { redisUrl } from './helpers/services.js';

const BIN = 'dist/src/cli/bin.js';
let p: Pipeline | undefined;
let children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npm run build" (npm test does it first)`);
});

afterEach(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  children = [];
  await p?.close();
  p = undefined;
});

function startWorkerProcess(pipeline: Pipeline, rate: number): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redisUrl(),
    DATABASE_URL: pipeline.db.url,
    CAMS_QUEUE: pipeline.queueName,
    CAMS_ENDPOINT: pipeline.sim.endpoint,
    CAMS_PROTOCOL: 'http',
    CAMS_RATE_LIMIT: String(rate),
    ALIBABA_CLOUD_ACCESS_KEY_ID: pipeline.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: pipeline.accessKeySecret,
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, [BIN, 'worker', '--concurrency', '4'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.setEncoding('utf8');
  let stderr = '';
  child.stderr?.on('data', (d: string) => (stderr += d));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`worker exited ${code}: ${stderr}\n`);
  });
  children.push(child);
  return child;
}

describe('a fleet of worker processes', () => {
  it('shares one rate limit: never over the quota in any second, at most 1% throttled, each number fetched once', async () => {
    p = await startPipeline({ rate: 10 });
    const numbers = Array.from({ length: 100 }, (_, i) => `4479${String(11_000_000 + i * 37).slice(-8)}`);
    const file = await p.csv('fleet.csv', 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n');
    const runId = await p.importFile(file);
    const workers = [startWorkerProcess(p, 10), startWorkerProcess(p, 10)];

    const s = await p.waitFinished(runId, 60_000);
    expect(s).toMatchObject({ total: 100, enriched: 100, failed: 0, pending: 0 });
    const c = p.sim.counters();
    expect(c.maxCallsInAnyWindow).toBeLessThanOrEqual(10);
    expect(c.throttled).toBeLessThanOrEqual(Math.floor(c.calls * 0.01));
    expect(Object.values(c.okByNumber).filter((n) => n > 1)).toEqual([]);
    expect(Object.keys(c.okByNumber)).toHaveLength(100);

    // Graceful shutdown: SIGTERM lets each process finish and exit 0.
    for (const w of workers) w.kill('SIGTERM');
    const codes = await Promise.all(
      workers.map(async (w) => (w.exitCode ?? (await once(w, 'exit'))[0]) as number),
    );
    expect(codes).toEqual([0, 0]);
  });
});
