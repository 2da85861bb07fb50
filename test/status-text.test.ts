/**
 * Text `status` tells the truth: an aborted run says so, finished runs show when and how long, the
 * list is bounded by --limit (50 by default) and says when it is cut, and piping into `head` ends
 * quietly.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import type { Pool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { abortRun, createRun, markReady } from '../src/db/runs.js';
import { createLogger } from '../src/log.js';
import { describeRun, runStatus } from '../src/runs/status.js';
import type { RunStatus } from '../src/runs/status.js';
import { emptyUsage } from '../src/runs/usage.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  redisUrl,
  testQueueName,
  testRedis,
} from './helpers/services.js';
import type { TestDatabase } from './helpers/services.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist', 'src', 'cli', 'bin.js');
const RUNS = 300;

function status(over: Partial<RunStatus>): RunStatus {
  return {
    run: 7,
    source: 'csv:in.csv',
    createdAt: '2026-01-01T10:00:00.000Z',
    queue: 'q',
    state: 'ready',
    phase: 'finished',
    priority: 'normal',
    cancelled: 0,
    waitingBehind: [],
    total: 10,
    invalid: 1,
    duplicate: 1,
    skipped: 1,
    enriched: 4,
    failed: 3,
    pending: 0,
    finished: true,
    finishedAt: '2026-01-01T10:01:20.000Z',
    ratePerSecond: 0,
    etaSeconds: null,
    usage: emptyUsage(),
    ...over,
  };
}

describe('describeRun', () => {
  it('shows a finished run with its finish time and duration', () => {
    expect(describeRun(status({}))).toEqual([
      'run 7 (csv:in.csv) finished',
      '  started 2026-01-01T10:00:00.000Z, finished 2026-01-01T10:01:20.000Z, took 1m 20s',
      '  total 10: enriched 4, failed 3, skipped 1, duplicate 1, invalid 1, pending 0',
    ]);
  });

  it('shows an aborted run as aborted, not finished', () => {
    const lines = describeRun(status({ state: 'aborted', phase: 'aborted' }));
    expect(lines[0]).toBe('run 7 (csv:in.csv) aborted');
    expect(lines[1]).toBe(
      '  started 2026-01-01T10:00:00.000Z, aborted 2026-01-01T10:01:20.000Z, took 1m 20s',
    );
    expect(lines.join('\n')).not.toContain('finished');
  });

  it('shows how long an open run has been running, with its rate and ETA', () => {
    const lines = describeRun(
      status({
        phase: 'running',
        finished: false,
        finishedAt: null,
        pending: 5,
        ratePerSecond: 2,
        etaSeconds: 3,
      }),
      new Date('2026-01-01T10:02:05.000Z'),
    );
    expect(lines[0]).toBe('run 7 (csv:in.csv) running');
    expect(lines[1]).toBe('  started 2026-01-01T10:00:00.000Z, running for 2m 05s');
    expect(lines[3]).toBe('  rate 2/s, ETA 3s');
  });
});

describe('cams-enrich status', () => {
  let db: TestDatabase;
  let pool: Pool;
  const queue = testQueueName();
  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl(),
    CAMS_QUEUE: queue,
    LOG_LEVEL: 'error',
  });
  let aborted = 0;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    const log = createLogger({ level: 'silent' });
    pool = createPool(db.url, log, { max: 2 });
    await migrate(pool, log);
    for (let i = 0; i < RUNS; i++) {
      const id = await createRun(pool, { queue, source: `csv:part-${i}.csv`, maxAgeMs: 0 });
      if (i === RUNS - 1) {
        await abortRun(pool, id, 'stopped by a test');
        aborted = id;
      } else await markReady(pool, id);
    }
  }, 120_000);

  afterAll(async () => {
    await pool.end();
    const redis = testRedis();
    await deleteQueueKeys(redis, queue);
    await redis.quit();
    await db.drop();
  });

  function sh(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('bash', ['-c', script], { cwd: ROOT, env: env(), timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
      );
    });
  }

  it('lists the newest 50 runs by default and says the list is cut', async () => {
    expect((await runStatus(pool, aborted)).state).toBe('aborted');
    const o = await sh(`node ${BIN} status`);
    expect(o.code).toBe(0);
    const heads = o.stdout.split('\n').filter((l) => /^run \d+ /.test(l));
    expect(heads).toHaveLength(50);
    expect(heads[0]).toBe(`run ${aborted} (csv:part-${RUNS - 1}.csv) aborted`);
    expect(o.stdout.trimEnd().split('\n').at(-1)).toBe(
      `(the newest 50 of ${RUNS} runs; --limit N lists more, --run ID shows one)`,
    );
  });

  it('lists as many as --limit asks, and says nothing more when all fit', async () => {
    const o = await sh(`node ${BIN} status --limit ${RUNS}`);
    expect(o.stdout.split('\n').filter((l) => /^run \d+ /.test(l))).toHaveLength(RUNS);
    expect(o.stdout).not.toContain('the newest');
    const bad = await sh(`node ${BIN} status --limit 0`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--limit');
  });

  it('ends quietly when piped into head, without an EPIPE stack trace', async () => {
    // 300 runs are far more than a pipe holds, so the writes after head has gone meet a closed pipe.
    const o = await sh(`node ${BIN} status --limit ${RUNS} | head -n 1; echo "exit=\${PIPESTATUS[0]}" >&2`);
    expect(o.stdout.split('\n')[0]).toMatch(/^queue /);
    expect(o.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(o.stderr.trim()).toBe('exit=0');
  });
});
