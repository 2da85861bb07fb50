/**
 * A source URL that cannot work says why, in words that point at the fix: a password where a schedule
 * would store it, a scheme that is not PostgreSQL's, a refused login, SSL the server does not take, a
 * port that speaks another protocol (exit 2, naming the flag), a server that is down (exit 1).
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { enqueueDbOptions } from '../src/runs/requests.js';
import { checkStoredCommand, hasPassword, parseStoredCommand } from '../src/schedules/stored-command.js';
import { connectSource } from '../src/sources/db-connection.js';
import { assertBuilt, killAll, startCli } from './helpers/processes.js';
import { adminDatabaseUrl } from './helpers/services.js';

const log = createLogger({ level: 'silent' });
const config = { databaseUrl: 'postgres://postgres@127.0.0.1/ledger', queueName: 'q' };
const servers: Server[] = [];

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  for (const server of servers.splice(0)) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A TCP server on loopback answering every connection's first bytes with `answer`, then hanging up. */
async function answering(answer: Buffer): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(answer));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const connect = (url: string) => connectSource(url, log, { label: '--source-url', timeoutMs: 5000 });

describe('a source URL', () => {
  it('with a password in any form is refused for a schedule, which would keep it in Redis', () => {
    const secret = [
      'postgres://crm:hunter2@db/crm',
      'postgres://crm@db/crm?password=secret',
      'postgresql://crm@db/crm?sslmode=require&PASSWORD=secret',
      'postgres://crm@db/crm?passfile=/home/crm/.pgpass',
      'postgres://crm@db/crm?sslpassword=keypass',
    ];
    for (const url of secret) {
      expect(hasPassword(url), url).toBe(true);
      const command = parseStoredCommand([
        'enqueue-db',
        '--source-url',
        url,
        '--query',
        'SELECT 1',
        '--space',
        'S1',
      ]);
      expect(() => checkStoredCommand(command, config), url).toThrow(
        expect.objectContaining({
          code: 'USAGE',
          exitCode: 2,
          message: expect.stringContaining('PGPASSWORD'),
        }),
      );
    }
    expect(hasPassword('postgres://crm@db/crm?sslmode=require&application_name=nightly')).toBe(false);
  });

  it('that is not postgres:// or postgresql:// is refused before anything connects', () => {
    for (const url of ['mysql://crm@db/crm', 'http://db/crm', 'redis://db:6379']) {
      expect(() => enqueueDbOptions({ sourceUrl: url, query: 'SELECT 1', space: 'S1' }, config)).toThrow(
        expect.objectContaining({
          code: 'USAGE',
          message: expect.stringContaining(
            '--source-url must be a PostgreSQL URL (postgres:// or postgresql://)',
          ),
        }),
      );
    }
    expect(() =>
      enqueueDbOptions({ sourceUrl: 'not a url', query: 'SELECT 1', space: 'S1' }, config),
    ).toThrow(/--source-url is not a URL/);
    expect(
      enqueueDbOptions({ sourceUrl: 'postgresql://crm@db/crm', query: 'SELECT 1', space: 'S1' }, config),
    ).toMatchObject({ sourceUrl: 'postgresql://crm@db/crm', sourceLabel: '--source-url' });
  });

  it('whose login PostgreSQL refuses is bad input naming the flag, by SQLSTATE', async () => {
    const url = new URL(adminDatabaseUrl());
    url.username = 'no_such_role_for_cams';
    url.password = '';
    await expect(connect(url.toString())).rejects.toMatchObject({
      code: 'DB_SOURCE',
      exitCode: 2,
      message: expect.stringMatching(
        /^--source-url: PostgreSQL at .+ refused the login \(.+, SQLSTATE 28(000|P01)\): name a role that exists there in --source-url, with its password in PGPASSWORD or ~\/\.pgpass$/,
      ),
    });
  });

  it('asking for SSL of a server that does not take it is bad input naming sslmode', async () => {
    // PostgreSQL's answer to an SSL request: 'N', no SSL here.
    const port = await answering(Buffer.from('N'));
    await expect(connect(`postgres://crm@127.0.0.1:${port}/crm?sslmode=require`)).rejects.toMatchObject({
      code: 'DB_SOURCE',
      exitCode: 2,
      message: `--source-url: the server at postgres://crm@127.0.0.1:${port}/crm?sslmode=require does not accept SSL connections, and --source-url asks for SSL (sslmode): enable SSL on the server or drop sslmode from --source-url`,
    });
  });

  it('pointing at a port that speaks another protocol is bad input; at one nothing listens on, a runtime failure', async () => {
    const http = await answering(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await expect(connect(`postgres://crm@127.0.0.1:${http}/crm`)).rejects.toMatchObject({
      code: 'DB_SOURCE',
      exitCode: 2,
      message: expect.stringContaining(
        "does not speak PostgreSQL's protocol: check the port in --source-url",
      ),
    });
    const down = await closedPort();
    await expect(connect(`postgres://crm@127.0.0.1:${down}/crm`)).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      exitCode: 1,
      message: expect.stringMatching(
        new RegExp(
          `^--source-url: PostgreSQL is not reachable at postgres://crm@127\\.0\\.0\\.1:${down}/crm \\(.+\\): start it, or correct --source-url$`,
        ),
      ),
    });
  });

  it('exits 2 from the command line for a MySQL URL and a scheduled password, before any service is used', async () => {
    const env = {
      ...process.env,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unused',
      LOG_LEVEL: 'silent',
    };
    const run = async (args: string[]) => {
      const cli = startCli(args, env);
      const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
      return { code, stderr: cli.stderr() };
    };
    const mysql = await run([
      'enqueue-db',
      '--source-url',
      'mysql://crm@db/crm',
      '--query',
      'SELECT 1',
      '--space',
      'S1',
    ]);
    expect(mysql.code).toBe(2);
    expect(mysql.stderr).toContain('--source-url must be a PostgreSQL URL');
    const scheduled = await run([
      'schedule',
      'add',
      'nightly',
      '--cron',
      '0 2 * * *',
      '--',
      'enqueue-db',
      '--source-url',
      'postgres://crm@db/crm?password=secret',
      '--query',
      'SELECT 1',
      '--space',
      'S1',
    ]);
    expect(scheduled.code).toBe(2);
    expect(scheduled.stderr).toContain('must not hold a password');
    expect(scheduled.stderr).not.toContain('secret');
  }, 60_000);
});
