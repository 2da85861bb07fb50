/**
 * DATABASE_URL over TLS to a server whose certificate this process does not trust: the error names
 * DATABASE_URL and the sslmode/sslrootcert fix. The server side is a TLS listener that answers
 * PostgreSQL's SSLRequest and presents a self-signed certificate made by openssl for the test: the
 * handshake, where the refusal happens, is real.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { assertDatabase, createPool } from '../src/db/pool.js';
import type { Pool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';

let server: Server | undefined;
let pool: Pool | undefined;
let dir: string | undefined;

afterEach(async () => {
  await pool?.end();
  pool = undefined;
  server?.close();
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('DATABASE_URL over TLS', () => {
  it('names DATABASE_URL and the sslrootcert fix when the server certificate is not trusted', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cams-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const key = await readFile(join(dir, 'key.pem'));
    const cert = await readFile(join(dir, 'cert.pem'));
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      // The 8-byte SSLRequest, answered 'S'; then the TLS handshake on the same socket.
      socket.once('data', () => {
        socket.write('S');
        const tls = new TLSSocket(socket, { isServer: true, key, cert });
        tls.on('error', () => undefined);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const url = `postgres://cams@127.0.0.1:${address.port}/crm?sslmode=require`;
    pool = createPool(url, createLogger({ level: 'silent' }), { max: 1 });
    const err = await assertDatabase(pool, url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 2 });
    const message = (err as Error).message;
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(message).toContain('sslrootcert=');
    expect(message).toContain('sslmode=verify-full');
  });
});
