/**
 * A TCP proxy in front of PostgreSQL for outage and blip tests: it listens on 127.0.0.1 (an ephemeral
 * port) and pipes every connection to the real server, until `cut(ms)` resets every open connection
 * (both sides) and turns new ones away for `ms`. Processes pointed at `url` see exactly what a network
 * fault or a restarting server looks like to them.
 */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface PgProxy {
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  url: string;
  port: number;
  /** Connections accepted and piped so far. */
  readonly accepted: number;
  /** Connections turned away while cut. */
  readonly refused: number;
  /** Resets every open connection now and turns new ones away for `ms`; resolves when the cut ends. */
  cut(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy to the server of `databaseUrl`. */
export async function startPgProxy(databaseUrl: string): Promise<PgProxy> {
  const target = new URL(databaseUrl);
  const targetHost = target.hostname || '127.0.0.1';
  const targetPort = Number(target.port || 5432);
  const open = new Set<Socket>();
  let cutUntil = 0;
  let accepted = 0;
  let refused = 0;

  const kill = (socket: Socket) => {
    // resetAndDestroy sends RST: the peer sees ECONNRESET, as with a dead network path.
    if (!socket.destroyed) socket.resetAndDestroy();
  };
  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (Date.now() < cutUntil) {
      refused += 1;
      kill(client);
      return;
    }
    accepted += 1;
    const upstream = connect(targetPort, targetHost);
    upstream.on('error', () => kill(client));
    client.on('error', () => kill(upstream));
    client.on('close', () => {
      open.delete(client);
      kill(upstream);
    });
    upstream.on('close', () => {
      open.delete(upstream);
      kill(client);
    });
    open.add(client);
    open.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const port = address.port;
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    url: url.toString(),
    port,
    get accepted() {
      return accepted;
    },
    get refused() {
      return refused;
    },
    cut(ms) {
      cutUntil = Date.now() + ms;
      for (const socket of [...open]) kill(socket);
      open.clear();
      return new Promise((resolve) => setTimeout(resolve, ms));
    },
    async close() {
      for (const socket of [...open]) kill(socket);
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
