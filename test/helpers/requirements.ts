/**
 * What some test files need beyond Node.js and PostgreSQL (which the preflight provides, embedded when
 * no server is given): Redis, a browser, PgBouncer. vitest.config.ts leaves out the files whose need
 * is not met and says which and why, in the summary too (`SkipReporter`); in CI (`CI=true`), where
 * everything must run, an unmet need fails the run instead.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Reporter } from 'vitest/node';

export interface Skipped {
  readonly reason: string;
  readonly files: string[];
  /** True for the files left out for want of Redis. */
  readonly redis?: boolean;
}

/** True when something accepts a TCP connection at host:port within 1 s. */
export function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/**
 * A test file that talks to Redis itself or through a helper that does. A pipeline (test/helpers/
 * pipeline.ts) and the processes started on it put their queue on PostgreSQL when there is no Redis,
 * unless the file asks for Redis (`queueStore: 'redis'`); the schedules' queue of `openTestSchedules`
 * (test/helpers/dashboard.ts) is in Redis.
 */
const USES_REDIS =
  /testRedis|redisUrl\(|from 'ioredis'|helpers\/(redis-|rate-stores|test-clock)|deleteQueueKeys|startLocalStack|openRedis|createRedis|createEnrichQueue|openTestSchedules|\b(p|pipeline|stack)\.redis\b|queueStore: 'redis'/;

function testFiles(root: string): string[] {
  return readdirSync(join(root, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/${f}`);
}

/**
 * The test files to leave out, each group with its reason. Redis: `TEST_REDIS_URL`/`REDIS_URL` set
 * means it must be there (the preflight fails otherwise); unset, the default 127.0.0.1:6379 is used
 * when it answers and the files that need it are left out when it does not.
 */
export async function unmetRequirements(root: string, env: NodeJS.ProcessEnv): Promise<Skipped[]> {
  const files = testFiles(root);
  const skipped: Skipped[] = [];
  const redisGiven = Boolean(env.TEST_REDIS_URL ?? env.REDIS_URL);
  if (!redisGiven && !(await answers('127.0.0.1', 6379))) {
    skipped.push({
      redis: true,
      reason:
        'they need Redis: REDIS_URL is unset and nothing answers on 127.0.0.1:6379 (set REDIS_URL or start Redis)',
      files: files.filter((f) => USES_REDIS.test(readFileSync(join(root, f), 'utf8'))),
    });
  }
  if (!existsSync('/usr/bin/chromium')) {
    skipped.push({
      reason: 'it drives a browser and /usr/bin/chromium is missing (apt-get install chromium)',
      files: files.filter((f) => f === 'test/browser.test.ts'),
    });
  }
  if (!['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].some((p) => existsSync(p))) {
    skipped.push({
      reason: 'it starts PgBouncer, which is not installed (apt-get install pgbouncer)',
      files: files.filter((f) => /helpers\/pgbouncer/.test(readFileSync(join(root, f), 'utf8'))),
    });
  }
  return skipped.filter((s) => s.files.length > 0);
}

export function describeSkipped(skipped: Skipped[]): string[] {
  return skipped.map(
    (s) => `skipped ${s.files.length} test file(s), because ${s.reason}: ${s.files.join(', ')}`,
  );
}

/** Repeats the skipped files and why at the end of the run, after the summary. */
export class SkipReporter implements Reporter {
  constructor(private readonly skipped: Skipped[]) {}
  onTestRunEnd(): void {
    for (const line of describeSkipped(this.skipped)) process.stdout.write(`${line}\n`);
  }
}
