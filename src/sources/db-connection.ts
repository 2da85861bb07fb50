/**
 * The connection to a source database (`enqueue-db --source-url`, or `DATABASE_URL`): a client of its
 * own, connected within a deadline, closed at once when its reader is stopped, and watched, so a
 * connection cut mid-stream ends the read instead of leaving it waiting. A connection that fails says
 * why in words a user can act on: the login refused and SSL refused are bad input (exit 2, naming the
 * flag), a server that is down or silent a runtime failure (exit 1). Decided by SQLSTATE, errno and the
 * server's answer to an SSL request, never by message text.
 */
import { connect as tcpConnect } from 'node:net';
import pg from 'pg';
import { AppError, redactUrl } from '../errors.js';
import type { Logger } from '../log.js';

/** How long connecting to a source database may take, by default. */
export const SOURCE_CONNECT_TIMEOUT_MS = 10_000;

export interface SourceConnection {
  client: pg.Client;
  /**
   * Aborted, with `AppError('SOURCE_LOST')` as its reason, when the connection fails after it was
   * made (reset, closed by the server).
   */
  lost: AbortSignal;
}

export interface ConnectSourceOptions {
  /** How the URL is named in messages: `--source-url` or `DATABASE_URL`. */
  label: string;
  /** How long connecting may take. Default `SOURCE_CONNECT_TIMEOUT_MS`. */
  timeoutMs?: number | undefined;
  /** Aborting it closes the connection (also while connecting). Default: none. */
  signal?: AbortSignal | undefined;
}

/** The URL schemes a PostgreSQL source may have. */
const SCHEMES = ['postgres:', 'postgresql:'];

/** Refuses (exit 2, naming `label`) a source URL that is not a PostgreSQL URL. */
export function checkSourceUrl(url: string, label: string): void {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new AppError('USAGE', `${label} is not a URL: write postgres://[user@]host[:port]/database`);
  }
  if (!SCHEMES.includes(scheme)) {
    throw new AppError(
      'USAGE',
      `${label} must be a PostgreSQL URL (postgres:// or postgresql://), not ${scheme}//…: the source is read with PostgreSQL's protocol`,
    );
  }
}

/** Connects a client to `url`; the caller closes it with `closeSource`. */
export async function connectSource(
  url: string,
  log: Logger,
  options: ConnectSourceOptions,
): Promise<SourceConnection> {
  const { label } = options;
  const timeoutMs = options.timeoutMs ?? SOURCE_CONNECT_TIMEOUT_MS;
  const client = new pg.Client({
    connectionString: url,
    application_name: 'cams-enrich-source',
    // A peer that vanished without a reset (a dead network path) is noticed instead of awaited forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  const lost = new AbortController();
  let connected = false;
  client.on('error', (err) => {
    log.error(
      { err: { message: err.message, code: (err as { code?: unknown }).code } },
      'source database connection failed',
    );
    if (connected && !lost.signal.aborted) {
      lost.abort(
        new AppError(
          'SOURCE_LOST',
          `${label}: the connection to the source database was lost (${err.message})`,
          { cause: err },
        ),
      );
    }
  });
  const kill = () => client.connection.stream.destroy();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, timeoutMs);
  const { signal } = options;
  signal?.addEventListener('abort', kill, { once: true });
  try {
    if (signal?.aborted) throw new Error('stopped before connecting');
    await client.connect();
    connected = true;
  } catch (err) {
    kill();
    signal?.removeEventListener('abort', kill);
    if (signal?.aborted) {
      const reason: unknown = signal.reason;
      if (reason instanceof AppError) {
        throw new AppError(reason.code, `${reason.message}: no run was created`, { cause: reason });
      }
      throw new AppError(
        'INTERRUPTED',
        'interrupted while connecting to the source database: no run was created',
      );
    }
    if (timedOut) {
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        `${label}: ${redactUrl(url)} did not answer as PostgreSQL within ${timeoutMs / 1000} s: check the host and port, and that the server is up`,
        { cause: err },
      );
    }
    throw await connectError(err, url, label);
  } finally {
    clearTimeout(timer);
  }
  // From here on, a stop closes the connection, which ends whatever read is waiting on it.
  return { client, lost: lost.signal };
}

/** Ends the connection: politely when it is idle, at once when it is busy, broken or does not answer. */
export async function closeSource(source: SourceConnection): Promise<void> {
  const { client } = source;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, 1000))),
  ]);
  clearTimeout(timer);
  client.connection.stream.destroy();
}

/** SQLSTATEs of a refused login. */
const LOGIN_REFUSED = ['28000', '28P01'];
/** Socket errnos of a server that is down, unknown or unroutable. */
const UNREACHABLE = [
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
];

async function connectError(err: unknown, url: string, label: string): Promise<AppError> {
  const code = (err as { code?: unknown }).code;
  const detail = err instanceof Error ? err.message : String(err);
  const where = redactUrl(url);
  if (typeof code === 'string' && LOGIN_REFUSED.includes(code)) {
    return new AppError(
      'DB_SOURCE',
      `${label}: PostgreSQL at ${where} refused the login (${detail}, SQLSTATE ${code}): name a role that exists there in ${label}, with its password in PGPASSWORD or ~/.pgpass`,
      { cause: err },
    );
  }
  if (code === '3D000') {
    return new AppError('DB_SOURCE', `${label}: ${detail} at ${where} (SQLSTATE ${code})`, { cause: err });
  }
  if (typeof code === 'string' && /CERT|SIGNATURE|TLS|SSL/.test(code)) {
    return new AppError(
      'DB_SOURCE',
      `${label}: the SSL certificate of ${where} was not accepted (${code}): fix sslmode or the certificate settings in ${label}`,
      { cause: err },
    );
  }
  if (typeof code !== 'string' || !UNREACHABLE.includes(code)) {
    // No SQLSTATE, no errno: ask the server itself whether it speaks PostgreSQL and takes SSL.
    const answer = await askSsl(url);
    if (answer === 'N' && wantsSsl(url)) {
      return new AppError(
        'DB_SOURCE',
        `${label}: the server at ${where} does not accept SSL connections, and ${label} asks for SSL (sslmode): enable SSL on the server or drop sslmode from ${label}`,
        { cause: err },
      );
    }
    if (answer === 'other') {
      return new AppError(
        'DB_SOURCE',
        `${label}: the server at ${where} does not speak PostgreSQL's protocol: check the port in ${label}`,
        { cause: err },
      );
    }
  }
  return new AppError(
    'SERVICE_UNAVAILABLE',
    `${label}: PostgreSQL is not reachable at ${where} (${detail}): start it, or correct ${label}`,
    { cause: err },
  );
}

/** Whether the URL's parameters ask for SSL (pg reads `sslmode` prefer/require/verify-* and `ssl=true`). */
function wantsSsl(url: string): boolean {
  try {
    const params = new URL(url).searchParams;
    const mode = params.get('sslmode');
    const ssl = params.get('ssl');
    return (
      (mode !== null && ['prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(mode)) ||
      ssl === 'true' ||
      ssl === '1'
    );
  } catch {
    return false;
  }
}

/**
 * Sends PostgreSQL's SSLRequest to the URL's host and port and reads the one-byte answer: `S` (SSL
 * taken), `N` (refused), `other` (not PostgreSQL), or `none` (no answer within 3 s, or no TCP host).
 */
async function askSsl(url: string): Promise<'S' | 'N' | 'other' | 'none'> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    port = Number(u.port || 5432);
  } catch {
    return 'none';
  }
  if (host === '' || host.startsWith('/') || host.startsWith('%2F')) return 'none';
  return new Promise((resolve) => {
    const socket = tcpConnect(port, host);
    const done = (answer: 'S' | 'N' | 'other' | 'none') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done('none'), 3000);
    socket.on('error', () => done('none'));
    socket.on('end', () => done('other'));
    socket.on('connect', () => {
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      socket.write(request);
    });
    socket.once('data', (data: Buffer) => {
      const byte = String.fromCharCode(data[0] ?? 0);
      done(byte === 'S' || byte === 'N' ? byte : 'other');
    });
  });
}
