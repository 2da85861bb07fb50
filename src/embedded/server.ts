/**
 * The embedded PostgreSQL server's lifecycle. The first command that needs it creates its data
 * directory (initdb) and starts it detached; later commands find it by its socket and reuse it; one
 * found dead (kill -9, a reboot) is started again. Everything lives under the data directory:
 *
 *   pgdata/        the cluster (owned by the server's user, 0700)
 *   run/           its Unix socket, the only way in (no TCP port), 0700
 *   server.json    the record: pid, URL, version, user, when it started
 *   server.log     the server's own log
 *   server.lock    held while starting or stopping, so concurrent commands end with one server
 *   postgresql-*   a copy of the binaries, when the server runs as another user (root's case)
 */
import { spawn } from 'node:child_process';
import { chown, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  EMBEDDED_DATABASE,
  EMBEDDED_ROLE,
  MAX_SOCKET_PATH,
  embeddedDatabaseUrl,
  embeddedSocketDir,
} from '../data-dir.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PostgresBinaries } from './binaries.js';
import { ensureBinaries } from './binaries.js';
import { processAlive, withLock } from './lock.js';
import type { ServerUser } from './run-as.js';
import { assertReachable, serverUser } from './run-as.js';

/** The server's port number: only the name of its socket file (`.s.PGSQL.5432`), never a TCP port. */
const SOCKET_PORT = 5432;

export interface ServerRecord {
  readonly pid: number;
  readonly url: string;
  readonly version: string;
  /** The user it runs as, when not the one that started it. */
  readonly user: string | undefined;
  readonly startedAt: string;
}

export type ServerState = 'running' | 'starting' | 'stopped' | 'not created';

export interface ServerStatus {
  readonly state: ServerState;
  readonly dataDir: string;
  /** The ledger's URL on it (`DATABASE_URL` when unset). */
  readonly url: string;
  readonly log: string;
  readonly pid: number | undefined;
  readonly version: string | undefined;
  readonly user: string | undefined;
  readonly startedAt: string | undefined;
  /** A record left by a server that is gone without stopping (kill -9, a reboot). */
  readonly stale: boolean;
}

const paths = (dataDir: string) => ({
  pgdata: join(dataDir, 'pgdata'),
  ready: join(dataDir, 'pgdata.ready'),
  run: embeddedSocketDir(dataDir),
  record: join(dataDir, 'server.json'),
  log: join(dataDir, 'server.log'),
  lock: join(dataDir, 'server.lock'),
});

/** A URL to the server's `postgres` database, for checks and creating databases. */
function adminUrl(dataDir: string): string {
  return embeddedDatabaseUrl(dataDir, 'postgres');
}

/** Whether the server answers on its socket: 'up', 'starting' (it says so), or 'down' (no socket, refused). */
async function probe(dataDir: string): Promise<'up' | 'starting' | 'down'> {
  const client = new pg.Client({ connectionString: adminUrl(dataDir), connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'up';
  } catch (err) {
    // 57P03: the database system is starting up (or in recovery, or shutting down).
    return (err as { code?: string }).code === '57P03' ? 'starting' : 'down';
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function readRecord(file: string): Promise<ServerRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ServerRecord;
  } catch {
    return undefined;
  }
}

/** The postmaster's pid from its own `postmaster.pid`, when that process is alive and is a postgres. */
async function livePostmaster(pgdata: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(join(pgdata, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10);
  } catch {
    return undefined;
  }
  if (!processAlive(pid)) return undefined;
  // A pid taken again by another program after a kill -9 and a reboot is not ours to signal.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return cmdline === undefined || cmdline.includes('postgres') ? pid : undefined;
}

function checkSocketPath(dataDir: string): void {
  const socket = join(embeddedSocketDir(dataDir), `.s.PGSQL.${SOCKET_PORT}`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new AppError(
      'EMBEDDED_UNSUPPORTED',
      `the embedded server's socket ${socket} would be longer than the ${MAX_SOCKET_PATH} bytes a Unix socket path may have: set CAMS_DATA_DIR to a shorter directory`,
    );
  }
}

export interface EnsureOptions {
  readonly dataDir: string;
  readonly log: Logger;
  /** How long to wait for another command starting the server. Default 120 s. */
  readonly lockTimeoutMs?: number;
}

/**
 * Makes sure the embedded server runs, starting it (and creating it, the first time) when it does
 * not; resolves to the ledger's URL on it. Safe from many processes at once.
 */
export async function ensureEmbeddedServer(opts: EnsureOptions): Promise<{ url: string; started: boolean }> {
  const { dataDir, log } = opts;
  const url = embeddedDatabaseUrl(dataDir);
  if ((await probe(dataDir)) === 'up') return { url, started: false };
  checkSocketPath(dataDir);
  const user = serverUser();
  if (user) await assertReachable(join(dataDir, 'pgdata'), user);
  await mkdir(dataDir, { recursive: true, mode: user ? 0o755 : 0o700 });
  const p = paths(dataDir);
  return withLock(p.lock, opts.lockTimeoutMs ?? 120_000, async () => {
    // Another command may have started it while this one waited for the lock.
    const state = await probe(dataDir);
    if (state === 'up') return { url, started: false };
    if (state === 'starting' || (await livePostmaster(p.pgdata)) !== undefined) {
      await waitUntilUp(dataDir, undefined, p.log, 60_000);
      return { url, started: false };
    }
    const record = await readRecord(p.record);
    if (record)
      log.warn(
        { dataDir, serverPid: record.pid },
        'the embedded PostgreSQL server stopped without a shutdown; starting it again',
      );
    const binaries = await ensureBinaries(user ? dataDir : undefined, dataDir);
    await initialise(binaries, dataDir, user, log);
    await mkdir(p.run, { recursive: true, mode: 0o700 });
    if (user) await chown(p.run, user.uid, user.gid);
    const pid = await startServer(binaries, dataDir, user, log);
    await createLedgerDatabase(dataDir);
    const next: ServerRecord = {
      pid,
      url,
      version: binaries.version,
      user: user?.name,
      startedAt: new Date().toISOString(),
    };
    await writeFile(p.record, JSON.stringify(next, null, 2) + '\n', { mode: 0o644 });
    log.info({ dataDir, serverPid: pid, version: binaries.version }, 'embedded PostgreSQL server started');
    return { url, started: true };
  });
}

/** initdb once; a directory an earlier initdb left unfinished is made again. */
async function initialise(
  b: PostgresBinaries,
  dataDir: string,
  user: ServerUser | undefined,
  log: Logger,
): Promise<void> {
  const p = paths(dataDir);
  const major = b.version.split('.')[0];
  if (await stat(p.ready).catch(() => undefined)) {
    const has = (await readFile(join(p.pgdata, 'PG_VERSION'), 'utf8').catch(() => '')).trim();
    if (has !== '' && has !== major) {
      throw new AppError(
        'EMBEDDED_UNSUPPORTED',
        `the embedded server's data in ${p.pgdata} is of PostgreSQL ${has}, and this cams-enrich ships PostgreSQL ${major}: ` +
          `move the data with the earlier cams-enrich (docs/single-box.md, "Moving to a server") or set CAMS_DATA_DIR elsewhere`,
      );
    }
    return;
  }
  log.info({ dataDir }, 'creating the embedded PostgreSQL server (once; a few seconds)');
  await rm(p.pgdata, { recursive: true, force: true });
  await mkdir(p.pgdata, { mode: 0o700 });
  if (user) await chown(p.pgdata, user.uid, user.gid);
  const output = await run(
    b.initdb,
    [
      '-D',
      p.pgdata,
      '-U',
      EMBEDDED_ROLE,
      '--auth=trust',
      '--encoding=UTF8',
      '--no-locale',
      '--no-instructions',
    ],
    dataDir,
    user,
  );
  if (output.code !== 0) {
    throw new AppError(
      'EMBEDDED_FAILED',
      `initdb of the embedded PostgreSQL server failed (exit ${output.code}): ${output.text.trim().split('\n').slice(-3).join(' ')}`,
    );
  }
  await writeFile(p.ready, `${b.version}\n`);
}

function childEnv(): NodeJS.ProcessEnv {
  // The server's messages are read by people and matched by nobody; C keeps them plain on any system.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: process.env.TZ ?? 'UTC' };
}

function run(
  file: string,
  args: string[],
  cwd: string,
  user: ServerUser | undefined,
): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...ids(user),
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, text }));
  });
}

function ids(user: ServerUser | undefined): { uid?: number; gid?: number } {
  return user ? { uid: user.uid, gid: user.gid } : {};
}

/** Starts the postmaster detached (its own session, its output to server.log) and waits until it answers. */
async function startServer(
  b: PostgresBinaries,
  dataDir: string,
  user: ServerUser | undefined,
  log: Logger,
): Promise<number> {
  const p = paths(dataDir);
  const args = [
    '-D',
    p.pgdata,
    '-k',
    p.run,
    '-p',
    String(SOCKET_PORT),
    '-c',
    'listen_addresses=',
    '-c',
    'unix_socket_permissions=0700',
    '-c',
    'max_connections=200',
  ];
  // After a kill -9 the old server's processes may take a moment to go (shared memory still attached).
  for (let attempt = 1; ; attempt++) {
    const logFile = await open(p.log, 'a', 0o644);
    const child = spawn(b.postgres, args, {
      cwd: dataDir,
      env: childEnv(),
      detached: true,
      stdio: ['ignore', logFile.fd, logFile.fd],
      ...ids(user),
    });
    await logFile.close();
    const exited = new Promise<number>((resolve) => {
      child.on('exit', (code) => resolve(code ?? 1));
      child.on('error', () => resolve(127));
    });
    try {
      await waitUntilUp(dataDir, exited, p.log, 60_000);
      child.unref();
      return child.pid!;
    } catch (err) {
      const tail = await logTail(p.log);
      if (attempt < 20 && /pre-existing shared memory block|lock file .* already exists/.test(tail)) {
        log.debug({ tail }, 'the embedded server found its previous run still going away; trying again');
        await sleep(500);
        continue;
      }
      throw err;
    }
  }
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-4).join('\n');
}

/** Waits until the server answers; fails when `exited` resolves first (its log's last lines said) or after `timeoutMs`. */
async function waitUntilUp(
  dataDir: string,
  exited: Promise<number> | undefined,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  let exitCode: number | undefined;
  void exited?.then((code) => (exitCode = code));
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await probe(dataDir)) === 'up') return;
    if (exitCode !== undefined || performance.now() > deadline) {
      const why =
        exitCode !== undefined ? `exited (${exitCode})` : `did not answer within ${timeoutMs / 1000} s`;
      throw new AppError(
        'EMBEDDED_FAILED',
        `the embedded PostgreSQL server ${why}; the end of its log ${logFile}:\n${await logTail(logFile)}`,
      );
    }
    await sleep(100);
  }
}

async function createLedgerDatabase(dataDir: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(dataDir) });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      EMBEDDED_DATABASE,
    ]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(EMBEDDED_DATABASE)}`);
  } finally {
    await client.end();
  }
}

/** What `embedded status` shows. Reads only: starts nothing. */
export async function embeddedStatus(dataDir: string): Promise<ServerStatus> {
  const p = paths(dataDir);
  const record = await readRecord(p.record);
  const probed = await probe(dataDir);
  const pid = await livePostmaster(p.pgdata);
  const created = (await stat(p.ready).catch(() => undefined)) !== undefined;
  const state: ServerState =
    probed === 'up'
      ? 'running'
      : probed === 'starting' || pid !== undefined
        ? 'starting'
        : created
          ? 'stopped'
          : 'not created';
  return {
    state,
    dataDir,
    url: embeddedDatabaseUrl(dataDir),
    log: p.log,
    pid: pid ?? (state === 'running' ? record?.pid : undefined),
    version: record?.version,
    user: record?.user,
    startedAt: state === 'running' || state === 'starting' ? record?.startedAt : undefined,
    stale: record !== undefined && state !== 'running' && state !== 'starting',
  };
}

/**
 * Stops the server (fast shutdown: sessions are ended, work in flight rolls back) and waits until it
 * is gone. Resolves to the pid stopped, or undefined when it was not running (a stale record is removed).
 */
export async function stopEmbeddedServer(
  opts: EnsureOptions & { timeoutMs?: number },
): Promise<number | undefined> {
  const p = paths(opts.dataDir);
  if ((await stat(opts.dataDir).catch(() => undefined)) === undefined) return undefined;
  return withLock(p.lock, opts.lockTimeoutMs ?? 120_000, async () => {
    const pid = await livePostmaster(p.pgdata);
    if (pid === undefined) {
      await rm(p.record, { force: true });
      return undefined;
    }
    process.kill(pid, 'SIGINT');
    const deadline = performance.now() + (opts.timeoutMs ?? 60_000);
    while (processAlive(pid)) {
      if (performance.now() > deadline) {
        throw new AppError(
          'EMBEDDED_FAILED',
          `the embedded PostgreSQL server (pid ${pid}) did not stop within ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s; see ${p.log}`,
        );
      }
      await sleep(100);
    }
    await rm(p.record, { force: true });
    opts.log.info({ dataDir: opts.dataDir, serverPid: pid }, 'embedded PostgreSQL server stopped');
    return pid;
  });
}
