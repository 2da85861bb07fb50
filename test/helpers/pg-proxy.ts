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
  /** Connections held so far (see `ProxyOptions.holdAtExecute`). */
  readonly held: number;
  /** Resets every open connection now and turns new ones away for `ms`; resolves when the cut ends. */
  cut(ms: number): Promise<void>;
  /** Resets every open connection now and turns new ones away until `up()`. */
  down(): void;
  /** Lets connections through again after `down()`. */
  up(): void;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /**
   * On a connection whose client sends its Nth Execute message (the extended protocol's, as a cursor
   * fetching its Nth batch of rows does), stop passing the client's bytes on from that message: the
   * server never hears the request and the client waits for rows forever, as with a source that stopped
   * answering mid-stream. Default: never.
   */
  holdAtExecute?: number;
}

/**
 * Counts the frontend messages of one connection (the startup packet has no type byte; every later
 * message is a type byte and a length) and says where the `n`th Execute ('E') starts, once it is seen.
 */
function executeFinder(n: number) {
  let buffered = Buffer.alloc(0);
  let offset = 0; // bytes of the connection before `buffered`
  let startup = true;
  let executes = 0;
  return (chunk: Buffer): number | undefined => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (startup) {
        if (buffered.length < 8) return undefined;
        const len = buffered.readInt32BE(0);
        if (buffered.length < len) return undefined;
        // An SSLRequest (or GSSENCRequest) is followed by the real startup packet.
        const code = buffered.readInt32BE(4);
        startup = code === 80877103 || code === 80877104;
        offset += len;
        buffered = buffered.subarray(len);
        continue;
      }
      if (buffered.length < 5) return undefined;
      const type = buffered[0];
      const len = buffered.readInt32BE(1) + 1;
      if (type === 0x45 && executes + 1 === n) return offset;
      if (buffered.length < len) return undefined;
      if (type === 0x45) executes += 1;
      offset += len;
      buffered = buffered.subarray(len);
    }
  };
}

/** Starts a proxy to the server of `databaseUrl`. */
export async function startPgProxy(databaseUrl: string, options: ProxyOptions = {}): Promise<PgProxy> {
  const target = new URL(databaseUrl);
  const targetHost = decodeURIComponent(target.hostname) || '127.0.0.1';
  const targetPort = Number(target.port || 5432);
  // A host that is a directory is the server's Unix socket (the embedded server's).
  const upstreamAt = targetHost.startsWith('/')
    ? { path: `${targetHost}/.s.PGSQL.${targetPort}` }
    : { host: targetHost, port: targetPort };
  const open = new Set<Socket>();
  let cutUntil = 0;
  let accepted = 0;
  let refused = 0;
  let held = 0;

  const kill = (socket: Socket) => {
    // resetAndDestroy sends RST: the peer sees ECONNRESET, as with a dead network path.
    // (A Unix socket has no RST: it is closed.)
    if (socket.destroyed) return;
    if (socket.remoteFamily === undefined) socket.destroy();
    else socket.resetAndDestroy();
  };
  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (Date.now() < cutUntil) {
      refused += 1;
      kill(client);
      return;
    }
    accepted += 1;
    const upstream = connect(upstreamAt);
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
    upstream.pipe(client);
    if (options.holdAtExecute === undefined) {
      client.pipe(upstream);
      return;
    }
    const find = executeFinder(options.holdAtExecute);
    let passed = 0;
    let holding = false;
    client.on('data', (chunk: Buffer) => {
      if (holding) return;
      const at = find(chunk);
      if (at === undefined) {
        passed += chunk.length;
        upstream.write(chunk);
        return;
      }
      holding = true;
      held += 1;
      upstream.write(chunk.subarray(0, at - passed));
    });
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
    get held() {
      return held;
    },
    cut(ms) {
      cutUntil = Date.now() + ms;
      for (const socket of [...open]) kill(socket);
      open.clear();
      return new Promise((resolve) => setTimeout(resolve, ms));
    },
    down() {
      cutUntil = Infinity;
      for (const socket of [...open]) kill(socket);
      open.clear();
    },
    up() {
      cutUntil = 0;
    },
    async close() {
      for (const socket of [...open]) kill(socket);
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
