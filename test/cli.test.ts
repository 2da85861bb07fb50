/**
 * The built `cams-enrich` executable, run as a user runs it: exit codes, one-line messages, and the
 * commands that talk to PostgreSQL and Redis against a database and a queue of their own.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
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
const CHILD_TIMEOUT_MS = 20_000;
const EMPTY_HOME = mkdtempSync(join(tmpdir(), 'cams-enrich-home-'));
afterAll(() => rm(EMPTY_HOME, { recursive: true, force: true }));

interface Outcome {
  /** Exit code; null when the child was killed (it hung past the timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The environment of a user without credentials or CAMS settings. PostgreSQL and Redis point at a port
 * nothing listens on unless a test gives its own: a usage error must be found before either is touched
 * (reaching them would be exit 1, not 2), and no test writes to the shared default database.
 */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('ALIBABA_CLOUD_') || key.startsWith('CAMS_') || key === 'LOG_LEVEL') delete env[key];
  }
  env.DATABASE_URL = 'postgres://postgres@127.0.0.1:1/nowhere';
  env.REDIS_URL = 'redis://127.0.0.1:1';
  // No credential files and no ECS instance metadata service either.
  env.HOME = EMPTY_HOME;
  env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
  return { ...env, ...extra };
}

function run(args: string[], extra: Record<string, string> = {}): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: baseEnv(extra), timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

function stderrLines(o: Outcome): string[] {
  return o.stderr.split('\n').filter((l) => l.trim() !== '');
}

let databases: TestDatabase[] = [];
let queues: string[] = [];
let tempDirs: string[] = [];

afterEach(async () => {
  const dropping = databases;
  databases = [];
  await Promise.all(dropping.map((d) => d.drop()));
  const cleaning = queues;
  queues = [];
  if (cleaning.length > 0) {
    const redis = testRedis();
    try {
      for (const q of cleaning) await deleteQueueKeys(redis, q);
    } finally {
      redis.disconnect();
    }
  }
  const removing = tempDirs;
  tempDirs = [];
  await Promise.all(removing.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh database (migrated when asked) and queue name, as the DATABASE_URL and CAMS_QUEUE of a child. */
async function isolatedServices(
  options: { migrated?: boolean } = {},
): Promise<{ db: TestDatabase; env: Record<string, string> }> {
  const db = await createTestDatabase();
  databases.push(db);
  const queue = testQueueName();
  queues.push(queue);
  const env = { DATABASE_URL: db.url, REDIS_URL: redisUrl(), CAMS_QUEUE: queue };
  if (options.migrated) expect((await run(['migrate'], env)).code).toBe(0);
  return { db, env };
}

async function countRuns(url: string): Promise<number> {
  const pool = createPool(url, createLogger({ level: 'silent' }), { max: 1 });
  try {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM runs');
    return Number(rows[0]?.n);
  } finally {
    await pool.end();
  }
}

beforeAll(async () => {
  if (existsSync(BIN)) return;
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  await new Promise<void>((resolve, reject) => {
    execFile(npx, ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT }, (err, stdout, stderr) => {
      if (err) reject(new Error(`build failed:\n${stdout}${stderr}`));
      else resolve();
    });
  });
  expect(existsSync(BIN)).toBe(true);
}, 180_000);

describe('cams-enrich usage', () => {
  it('prints help listing every command and exits 0', async () => {
    const o = await run(['--help']);
    expect(o.code).toBe(0);
    for (const command of [
      'migrate',
      'lookup',
      'import',
      'worker',
      'status',
      'resume',
      'simulator',
      'demo',
    ]) {
      expect(o.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    }
  });

  it('exits 2 on an unknown command, naming it', async () => {
    const o = await run(['frobnicate']);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain("unknown command 'frobnicate'");
    expect(o.stdout).toBe('');
  });

  it('exits 2 when lookup is missing --space', async () => {
    const o = await run(['lookup', '8613800001234']);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('--space');
  });

  it('exits 2 when a number option is not a number', async () => {
    const o = await run(['worker', '--concurrency', 'many']);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('--concurrency');
  });
});

describe('cams-enrich configuration errors', () => {
  it('fails lookup without credentials at once, with one line naming the ways to provide them', async () => {
    const o = await run(['lookup', '8613800001234', '--space', 'S1']);
    expect(o.code).toBe(2);
    const lines = stderrLines(o);
    expect(lines).toHaveLength(1);
    for (const way of [
      'ALIBABA_CLOUD_ACCESS_KEY_ID',
      '--profile',
      '~/.aliyun/config.json',
      '~/.alibabacloud/credentials',
      'ALIBABA_CLOUD_OIDC_TOKEN_FILE',
      'ECS',
    ])
      expect(lines[0]).toContain(way);
    expect(o.stdout).toBe('');
  });

  it('fails lookup with only the id set, naming ALIBABA_CLOUD_ACCESS_KEY_SECRET', async () => {
    const o = await run(['lookup', '8613800001234', '--space', 'S1'], {
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAItest',
    });
    expect(o.code).toBe(2);
    const lines = stderrLines(o);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('ALIBABA_CLOUD_ACCESS_KEY_SECRET');
  });

  it('fails worker without credentials at once, with one line naming ALIBABA_CLOUD_ACCESS_KEY_ID', async () => {
    const o = await run(['worker']);
    expect(o.code).toBe(2);
    const lines = stderrLines(o);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('ALIBABA_CLOUD_ACCESS_KEY_ID');
  });

  it('refuses a lookup of something that is not a phone number with exit 2, before calling CAMS', async () => {
    // An endpoint nothing listens on: reaching the network would be exit 1, not 2.
    const o = await run(['lookup', 'hello', '--space', 'S1'], {
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAItest',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'test-secret',
      CAMS_ENDPOINT: '127.0.0.1:1',
      CAMS_PROTOCOL: 'http',
    });
    expect(o.code).toBe(2);
    expect(o.stderr).toContain("'hello' is not a phone number");
  });

  it('exits 2 naming CAMS_RATE_LIMIT when it is not a number', async () => {
    const o = await run(['status'], { CAMS_RATE_LIMIT: 'abc' });
    expect(o.code).toBe(2);
    const lines = stderrLines(o);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('CAMS_RATE_LIMIT');
  });

  it('never prints the AccessKey secret in an error', async () => {
    const secret = 'do-not-print-this-secret-42';
    const o = await run(['lookup', '8613800001234', '--space', ' '], {
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAItest',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: secret,
    });
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('--space');
    expect(o.stderr + o.stdout).not.toContain(secret);
  });
});

describe('cams-enrich import usage', () => {
  it('exits 2 naming the file when the CSV does not exist, and leaves no run behind', async () => {
    const { db, env } = await isolatedServices({ migrated: true });
    const o = await run(['import', 'missing.csv', '--space', 'S'], env);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('missing.csv');
    expect(o.stdout).toBe('');
    expect(await countRuns(db.url)).toBe(0);
  });

  it('names a character device given as the CSV, exit 2, before touching any service', async () => {
    const o = await run(['import', '/dev/zero', '--space', 'S']);
    expect(o.code, o.stderr).toBe(2);
    expect(stderrLines(o)).toEqual([
      'cams-enrich: cannot read /dev/zero: it is a character device (such as /dev/zero or a terminal), not a file',
    ]);
  });

  it('says standard input is a directory for import - < DIR, exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-stdin-dir-'));
    const fd = openSync(dir, 'r');
    try {
      const child = spawn(process.execPath, [BIN, 'import', '-', '--space', 'S'], {
        cwd: ROOT,
        env: baseEnv(),
        stdio: [fd, 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, stderr).toBe(2);
      expect(stderr).toContain('cannot read standard input: it is a directory');
    } finally {
      closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a named pipe as the CSV, as a stream', async () => {
    const { db, env } = await isolatedServices({ migrated: true });
    const dir = await mkdtemp(join(tmpdir(), 'cams-fifo-'));
    const fifo = join(dir, 'contacts.csv');
    try {
      await new Promise<void>((resolve, reject) =>
        execFile('mkfifo', [fifo], (err) => (err ? reject(err) : resolve())),
      );
      const writer = new Promise<void>((resolve, reject) =>
        execFile(
          'sh',
          ['-c', `printf 'phone\\n+8613800001234\\n+8613800001235\\n' > "$1"`, 'sh', fifo],
          (err) => (err ? reject(err) : resolve()),
        ),
      );
      const o = await run(['import', fifo, '--space', 'S', '--json'], env);
      await writer;
      expect(o.code, o.stderr).toBe(0);
      expect(JSON.parse(o.stdout)).toMatchObject({ total: 2 });
      expect(await countRuns(db.url)).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1, not 2, when the disk will not take the rejects file, and leaves no part of it', async () => {
    const { db, env } = await isolatedServices({ migrated: true });
    const dir = await mkdtemp(join(tmpdir(), 'cams-full-'));
    const csv = join(dir, 'in.csv');
    const rejects = join(dir, 'rejects.csv');
    const bad = Array.from(
      { length: 2000 },
      (_, i) => `not a phone number at all, row ${i} ${'x'.repeat(40)}`,
    );
    await writeFile(csv, ['phone', ...bad.map((b) => `"${b}"`)].join('\n') + '\n');
    try {
      // A file size limit stands in for a full disk: the write fails with EFBIG, as it would with ENOSPC.
      const o = await new Promise<Outcome>((resolve) =>
        execFile(
          'sh',
          [
            '-c',
            'trap "" XFSZ; ulimit -f 16; exec "$@"',
            'sh',
            process.execPath,
            BIN,
            'import',
            csv,
            '--space',
            'S',
            '--rejects',
            rejects,
          ],
          { cwd: ROOT, env: baseEnv(env), timeout: CHILD_TIMEOUT_MS, encoding: 'utf8' },
          (err, stdout, stderr) =>
            resolve({
              code: err === null ? 0 : typeof err.code === 'number' ? err.code : null,
              stdout,
              stderr,
              ms: 0,
            }),
        ),
      );
      expect(o.code, o.stderr).toBe(1);
      expect(o.stderr).toContain(`cannot write rejects file ${rejects}`);
      expect(existsSync(rejects)).toBe(false);
      expect((await readdir(dir)).sort()).toEqual(['in.csv']);
      // The run is aborted with every row it read accounted for.
      const pool = createPool(db.url, createLogger({ level: 'silent' }), { max: 1 });
      try {
        const { rows } = await pool.query<{ state: string; total: number; settled: number }>(
          `SELECT state, total::int, (invalid + duplicate + skipped + enriched + failed + cancelled + pending)::int AS settled
           FROM runs`,
        );
        expect(rows).toHaveLength(1);
        expect(rows[0]!.state).toBe('aborted');
        expect(rows[0]!.total).toBeGreaterThan(0);
        expect(rows[0]!.settled).toBe(rows[0]!.total);
      } finally {
        await pool.end();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with neither --space nor --space-column', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-cli-'));
    tempDirs.push(dir);
    const file = join(dir, 'f.csv');
    await writeFile(file, 'phone\n8613800001234\n');
    const o = await run(['import', file]);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('--space');
    expect(o.stderr).toContain('--space-column');
  });

  it('refuses the input file as its own --rejects before touching any service, leaving it intact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-cli-'));
    tempDirs.push(dir);
    const file = join(dir, 'f.csv');
    await writeFile(file, 'phone\n8613800001234\n');
    const o = await run(['import', file, '--space', 'S', '--rejects', file]);
    expect(o.code).toBe(2);
    expect(stderrLines(o)).toEqual([
      `cams-enrich: cannot write rejects file ${file}: it is the input file; name another file`,
    ]);
    expect(await readFile(file, 'utf8')).toBe('phone\n8613800001234\n');
  });

  it('exits 2 with both --space and --space-column', async () => {
    const o = await run(['import', 'f.csv', '--space', 'S', '--space-column', 'space']);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('exactly one of --space');
  });
});

describe('cams-enrich against PostgreSQL and Redis', () => {
  it('migrates a fresh database, and says "up to date" the second time', async () => {
    const { env } = await isolatedServices();
    const first = await run(['migrate'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('0001_init.sql');
    expect(first.stdout).not.toContain('up to date');

    const second = await run(['migrate'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('up to date');
  });

  it('prints {"runs":[],...} for status --json on a fresh migrated database', async () => {
    const { env } = await isolatedServices();
    expect((await run(['migrate'], env)).code).toBe(0);
    const o = await run(['status', '--json'], env);
    expect(o.code).toBe(0);
    expect(o.stdout.trim().startsWith('{"runs":[]')).toBe(true);
    const parsed = JSON.parse(o.stdout) as {
      runs: unknown[];
      queue?: { name?: string; waiting?: number };
      limiter?: { quota: number; allowedRate: number; throttlesLastMinute: number; active: boolean };
    };
    expect(parsed.runs).toEqual([]);
    expect(parsed.queue?.name).toBe(env.CAMS_QUEUE);
    expect(parsed.queue?.waiting).toBe(0);
    // No call went through the rate controller yet: its starting point, under the quota.
    expect(parsed.limiter).toMatchObject({ throttlesLastMinute: 0, active: false });
    expect(parsed.limiter!.allowedRate).toBeLessThanOrEqual(parsed.limiter!.quota);
    const text = await run(['status'], env);
    expect(text.stdout).toMatch(/rate: [\d.]+\/s allowed of [\d.]+\/s quota/);
  });

  it('exits 1 for status on a database that was never migrated, saying to run migrate', async () => {
    const { db, env } = await isolatedServices();
    const o = await run(['status'], env);
    expect(o.code).toBe(1);
    expect(o.stderr).toContain('cams-enrich migrate');
    // A read-only command leaves the database as it found it.
    await expect(countRuns(db.url)).rejects.toThrow(/runs/);
  });

  it('exits 2 for status --run of a run that does not exist', async () => {
    const { env } = await isolatedServices({ migrated: true });
    const o = await run(['status', '--run', '999', '--json'], env);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('999');
  });

  it('exits 1 promptly, saying Redis is not reachable, when nothing listens at REDIS_URL', async () => {
    const { env } = await isolatedServices({ migrated: true });
    const o = await run(['status'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(o.code).toBe(1);
    expect(o.ms).toBeLessThan(CHILD_TIMEOUT_MS);
    expect(o.stderr).toContain('Redis is not reachable');
    expect(o.stderr).toContain('REDIS_URL');
    expect(o.stdout).toBe('');
  });
});
