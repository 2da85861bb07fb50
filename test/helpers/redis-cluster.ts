/**
 * A real Redis Cluster of three masters for a test file: three `redis-server --cluster-enabled yes`
 * on spare ports, joined by `redis-cli --cluster create`, ready once every node says
 * `cluster_state:ok`. With `tls`, every node listens with TLS only (clients and the cluster bus);
 * with `user`, an ACL user is the only one that may log in (the default user is off). `stop()` ends
 * the servers and removes their directory.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from './processes.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Certificate and key of every node (the certificate must name 127.0.0.1). Default: plain text. */
  tls?: { cert: string; key: string };
  /** The ACL user clients log in as, with every right. Default: the default user, no password. */
  user?: { name: string; password: string };
}

export interface RedisCluster {
  /**
   * `redis://127.0.0.1:<port>` of the first node (`rediss://user:password@…` with `tls` and `user`):
   * the one node a client is given.
   */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

/** True when nothing listens on `port` (and so a server may bind it). */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Three ports whose cluster bus ports (port + 10000) are free too. */
async function sparePorts(): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < 3 && tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 9_000);
    if (ports.includes(port)) continue;
    if ((await free(port)) && (await free(port + 10_000))) ports.push(port);
  }
  if (ports.length < 3) throw new Error('no spare ports for a Redis Cluster');
  return ports;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const { tls, user } = options;
  const listen = (port: number) =>
    tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cluster',
          'yes',
          '--tls-replication',
          'yes',
          '--tls-cert-file',
          tls.cert,
          '--tls-key-file',
          tls.key,
          '--tls-ca-cert-file',
          tls.cert,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(port)];
  const acl = user
    ? ['--user', 'default', 'off', '--user', user.name, 'on', `>${user.password}`, '~*', '&*', '+@all']
    : [];
  // What redis-cli needs to reach a node: TLS trusting the nodes' certificate, the user's login.
  const cliAccess = [
    ...(tls ? ['--tls', '--cacert', tls.cert] : []),
    ...(user ? ['--user', user.name, '--pass', user.password, '--no-auth-warning'] : []),
  ];
  const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-cluster-'));
  const ports = await sparePorts();
  const servers: ChildProcess[] = [];
  const stop = async () => {
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGTERM');
    await Promise.all(
      servers.map((s) => (s.exitCode === null && s.signalCode === null ? once(s, 'exit') : null)),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      servers.push(
        spawn(
          'redis-server',
          [
            '--cluster-enabled',
            'yes',
            ...listen(port),
            '--bind',
            '127.0.0.1',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
            '--cluster-config-file',
            `nodes-${port}.conf`,
            ...acl,
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    const cli = (port: number, ...args: string[]) =>
      run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...cliAccess, ...args]);
    for (const port of ports)
      await waitFor(
        `redis-server on ${port}`,
        15_000,
        async () => (await cli(port, 'ping').catch(() => ({ stdout: '' }))).stdout.trim() === 'PONG',
      );
    await run('redis-cli', [
      ...cliAccess,
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports)
      await waitFor(`cluster_state:ok on ${port}`, 30_000, async () =>
        (await cli(port, 'cluster', 'info')).stdout.includes('cluster_state:ok'),
      );
    const login = user ? `${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@` : '';
    return { url: `${tls ? 'rediss' : 'redis'}://${login}127.0.0.1:${ports[0]}`, ports, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
