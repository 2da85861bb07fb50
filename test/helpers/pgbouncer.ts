/**
 * A real PgBouncer (Debian's `pgbouncer`) in transaction pooling mode in front of the test PostgreSQL,
 * started on a spare port with a generated configuration (trust, every database passed through) and
 * stopped by `stop()`. There is no stand-in: a missing binary fails the test with what to install.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { adminDatabaseUrl } from './services.js';
import { waitFor } from './processes.js';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

export interface PgBouncer {
  /** `databaseUrl` (a database of the test server) as reached through PgBouncer. */
  url(databaseUrl: string): string;
  /** What PgBouncer wrote to stderr, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

/** The pgbouncer binary, or an error saying why the test cannot run. */
export function pgbouncerBinary(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `pgbouncer is not installed (looked for ${CANDIDATES.join(', ')}), so the PgBouncer tests cannot run: ` +
        'apt-get install -y pgbouncer (.ci/run installs it)',
    );
  }
  return found;
}

async function sparePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startPgBouncer(): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  const server = new URL(adminDatabaseUrl());
  const user = decodeURIComponent(server.username || 'postgres');
  const port = await sparePort();
  const dir = await mkdtemp(join(tmpdir(), 'cams-pgbouncer-'));
  // PgBouncer refuses to run as root: it is told to switch to the database's user, who must read these.
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${decodeURIComponent(server.hostname).replace(/^\[|\]$/g, '')} port=${server.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      'default_pool_size = 40',
      '',
    ].join('\n'),
  );
  // As root it runs as a user that may reach the server: the embedded server's socket is nobody's.
  const runAs = decodeURIComponent(server.hostname).startsWith('/') ? 'nobody' : 'postgres';
  const args = process.getuid?.() === 0 ? ['-u', runAs] : [];
  const child: ChildProcess = spawn(binary, [...args, join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (log += d));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = (databaseUrl: string) => {
    const u = new URL(databaseUrl);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  try {
    await waitFor('PgBouncer to accept connections', 15_000, async () => {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited ${child.exitCode}: ${log}`);
      const client = new pg.Client({ connectionString: url(adminDatabaseUrl()) });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, log: () => log, stop };
}
