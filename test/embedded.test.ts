/**
 * The embedded PostgreSQL server's lifecycle through the built command, in a data directory of this
 * file's own: created and started at first need, reused, started again after a kill -9 with its data,
 * one server when two commands start it at once, stopped.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedDatabaseUrl } from '../src/data-dir.js';
import { processAlive } from '../src/embedded/lock.js';
import { assertReachable } from '../src/embedded/run-as.js';
import { assertBuilt, waitFor } from './helpers/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist', 'src', 'cli', 'bin.js');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], dataDir: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: ROOT,
        timeout: 120_000,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, CAMS_DATA_DIR: dataDir, LOG_FORMAT: 'json' },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

interface Status {
  state: string;
  pid?: number;
  url: string;
  stale: boolean;
  started?: boolean;
}

async function status(dataDir: string, command = 'status'): Promise<Status> {
  const out = await cli(['embedded', command, '--json'], dataDir);
  expect(out.stderr.split('\n').filter((l) => l.includes('"level":50'))).toEqual([]);
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout) as Status;
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

let dataDir: string;
beforeAll(async () => {
  assertBuilt();
  dataDir = await mkdtemp(join(tmpdir(), 'cams-emb-'));
  // mkdtemp makes it 0700: as root, the server's user must pass through it.
  await chmod(dataDir, 0o755);
});
afterAll(async () => {
  await cli(['embedded', 'stop'], dataDir);
  await rm(dataDir, { recursive: true, force: true });
});

describe('the embedded server', () => {
  it('is created at first need, with the ledger database on its socket, and reused after', async () => {
    expect((await status(dataDir)).state).toBe('not created');
    const first = await status(dataDir, 'start');
    expect(first).toMatchObject({ state: 'running', started: true, url: embeddedDatabaseUrl(dataDir) });
    expect(first.url).toContain(encodeURIComponent(join(dataDir, 'run')));
    const again = await status(dataDir, 'start');
    expect(again).toMatchObject({ state: 'running', started: false, pid: first.pid });
    await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
  });

  it('holds the ledger of a command run with DATABASE_URL unset', async () => {
    const out = await cli(['migrate', '--json'], dataDir);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).applied.length).toBeGreaterThan(5);
    const { rows } = await query(
      embeddedDatabaseUrl(dataDir),
      "SELECT to_regclass('cams_enrich.runs') AS runs",
    );
    expect(rows).toEqual([{ runs: 'cams_enrich.runs' }]);
  });

  it('is started again, with its data, after its postmaster was killed with kill -9', async () => {
    const before = await status(dataDir);
    process.kill(before.pid!, 'SIGKILL');
    await waitFor('the killed server to be gone', 10_000, () => !processAlive(before.pid!));
    expect(await status(dataDir)).toMatchObject({ state: 'stopped', stale: true });
    const after = await status(dataDir, 'start');
    expect(after).toMatchObject({ state: 'running', started: true });
    expect(after.pid).not.toBe(before.pid);
    expect((await query(after.url, 'SELECT n FROM kept')).rows).toEqual([{ n: 7 }]);
  });

  it('is one server when commands start it at once', async () => {
    const before = await status(dataDir);
    await cli(['embedded', 'stop'], dataDir);
    await waitFor('the server to stop', 10_000, () => !processAlive(before.pid!));
    const starts = await Promise.all([1, 2, 3].map(() => status(dataDir, 'start')));
    expect(starts.filter((s) => s.started)).toHaveLength(1);
    expect(new Set(starts.map((s) => s.pid)).size).toBe(1);
    expect(starts.every((s) => s.state === 'running')).toBe(true);
  });

  it('stops, and says so when it was not running', async () => {
    const { pid } = await status(dataDir);
    const stop = await cli(['embedded', 'stop'], dataDir);
    expect(stop).toMatchObject({ code: 0 });
    expect(stop.stdout).toContain(`stopped (pid ${pid})`);
    expect(processAlive(pid!)).toBe(false);
    expect((await status(dataDir)).state).toBe('stopped');
    expect((await cli(['embedded', 'stop'], dataDir)).stdout).toContain('was not running');
  });

  it('refuses a data directory whose socket path would be too long, saying what to do (exit 2)', async () => {
    const out = await cli(['embedded', 'start'], join(dataDir, 'x'.repeat(100)));
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/set CAMS_DATA_DIR to a shorter directory/);
  });

  it('names the directory the server user cannot pass through, and what to do', async () => {
    const closed = join(dataDir, 'closed');
    await mkdir(join(closed, 'inner'), { recursive: true });
    await chmod(closed, 0o700);
    const stranger = { name: 'stranger', uid: 4_000_123, gid: 4_000_123 };
    await expect(assertReachable(join(closed, 'inner', 'pgdata'), stranger)).rejects.toThrow(
      new RegExp(`${closed} has mode 0700\\): set CAMS_DATA_DIR`),
    );
    await chmod(closed, 0o755);
    await expect(assertReachable(join(closed, 'inner', 'pgdata'), stranger)).resolves.toBeUndefined();
  });
});
