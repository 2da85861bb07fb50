/**
 * Throwaway `redis-server` processes for tests of set-ups the shared Redis cannot show: a password, an
 * ACL user, TLS with a self-signed certificate, a replica, an eviction policy. Each listens on a free
 * loopback port, keeps its files in a temp dir and is killed by `stopRedisServers`.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './processes.js';

export interface RedisServer {
  port: number;
  /** Every line the server logged. */
  log(): string;
}

const servers: Array<{ child: ChildProcess; dir?: string }> = [];

/** A TCP port nobody listens on at the moment of asking. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `redis-server` with `args` on a free port (`--tls-port` instead of `--port` when `tls`) and
 * waits until it accepts connections.
 */
export async function startRedisServer(
  args: string[] = [],
  options: { tls?: { cert: string; key: string } } = {},
): Promise<RedisServer> {
  const port = await freePort();
  // A replica writes the primary's snapshot to its directory: a temp dir, removed afterwards.
  const dir = await mkdtemp(join(tmpdir(), 'cams-redis-'));
  const listen = options.tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        options.tls.cert,
        '--tls-key-file',
        options.tls.key,
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)];
  const child = spawn(
    'redis-server',
    [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  servers.push({ child, dir });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  await waitFor(`redis-server on port ${port}`, 20_000, async () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
    return accepts(port);
  });
  return { port, log: () => output };
}

/**
 * A self-signed certificate for `localhost` in a temp dir (removed by `stopRedisServers`); with
 * `loopbackIp`, it names 127.0.0.1 too (the address a Redis Cluster's nodes announce).
 */
export async function selfSignedCertificate(
  options: { loopbackIp?: boolean } = {},
): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cams-tls-'));
  servers.push({ child: { exitCode: 0 } as ChildProcess, dir });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    ...(options.loopbackIp ? ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'] : []),
  ]);
  return { cert, key };
}

/** Kills every server started here and removes their temp dirs. */
export async function stopRedisServers(): Promise<void> {
  for (const s of servers.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGKILL');
      await once(s.child, 'exit');
    }
    if (s.dir) await rm(s.dir, { recursive: true, force: true });
  }
}
