/**
 * Whether a Redis connection can be used, and when not, why, in words a user can act on. A wrong
 * password, a user without a needed command, a certificate the process does not trust, `redis://` to a
 * TLS port or a read-only replica are configuration to fix (exit 2 naming `REDIS_URL`), not an outage to
 * wait out; a server that does not answer is an outage (exit 1). Redis errors are told apart by the
 * error code a reply starts with (`WRONGPASS`, `NOAUTH`, `NOPERM`, `READONLY`), TLS errors by Node's code.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { RedisClient } from './redis-script.js';
import { AppError, redactUrl } from '../errors.js';

/** The certificate verification failures of Node's TLS: the server is there, but not trusted. */
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The error code of a Redis error reply: its first word when that is in capitals (`NOPERM …`). */
export function replyCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return undefined;
  return /^([A-Z][A-Z_]+)\b/.exec(err.message)?.[1];
}

/**
 * The configuration problem an error from Redis shows, as an `AppError('CONFIG_INVALID')` (exit 2)
 * naming `REDIS_URL` and the fix; undefined for anything else (an outage, a bug).
 */
export function redisConfigProblem(err: unknown, url: string): AppError | undefined {
  const at = redactUrl(url);
  const make = (message: string) => new AppError('CONFIG_INVALID', message, { cause: err });
  switch (replyCode(err)) {
    case 'WRONGPASS':
      return make(
        `REDIS_URL: the Redis at ${at} refused the user name or password (WRONGPASS): fix them in REDIS_URL (redis://USER:PASSWORD@host:port, the user left out for the default user)`,
      );
    case 'NOAUTH':
      return make(
        `REDIS_URL: the Redis at ${at} requires a password (NOAUTH): put it in REDIS_URL (redis://:PASSWORD@host:port, or redis://USER:PASSWORD@host:port for an ACL user)`,
      );
    case 'NOPERM':
      return make(
        `REDIS_URL: the Redis user of ${at} may not run a command cams-enrich needs (${(err as Error).message}): grant the rights listed in docs/production.md, "Redis"`,
      );
    case 'READONLY':
      return make(
        `REDIS_URL: the Redis at ${at} is a read-only replica (READONLY): point REDIS_URL at the primary`,
      );
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && TLS_TRUST_CODES.has(code)) {
    return make(
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `REDIS_URL: the TLS certificate of the Redis at ${at} does not name that host (${code}): use a host name the certificate names in REDIS_URL`
        : `REDIS_URL: the TLS certificate of the Redis at ${at} is not trusted (${code}): give the CA that signed it in NODE_EXTRA_CA_CERTS=/path/to/ca.pem (see docs/production.md, "TLS")`,
    );
  }
  return undefined;
}

/** Host and port of a Redis URL, or undefined when it is not one. */
function hostPort(url: string): { protocol: string; host: string; port: number } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  return {
    protocol: u.protocol,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: Number(u.port || 6379),
  };
}

/** True when a TLS handshake with the host and port of a `redis://` URL succeeds: the server wants `rediss://`. */
export async function speaksTls(url: string, timeoutMs = 2000): Promise<boolean> {
  const at = hostPort(url);
  if (at?.protocol !== 'redis:') return false;
  return new Promise<boolean>((resolve) => {
    // Only whether the handshake completes matters here; nothing is sent over it.
    const socket = tlsConnect({ host: at.host, port: at.port, rejectUnauthorized: false });
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * True when the host and port of a `rediss://` URL answer a plain-text `PING` with a Redis reply
 * (`+PONG`, `-NOAUTH …`): the port does not speak TLS. A TLS port answers with a TLS alert or not at all.
 */
export async function speaksPlainRedis(url: string, timeoutMs = 2000): Promise<boolean> {
  const at = hostPort(url);
  if (at?.protocol !== 'rediss:') return false;
  return new Promise<boolean>((resolve) => {
    const socket = netConnect({ host: at.host, port: at.port });
    let received = '';
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (/^[+-][^\r\n]*\r\n/.test(received)) done(true);
      else if (!/^[+-][^\r\n]*$/.test(received)) done(false);
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** How long a `rediss://` connection may go without an answer before its port is checked for plain text. */
const PLAIN_TEXT_CHECK_MS = 1000;

export interface WaitOptions {
  /** How long to wait for the connection to be ready before it is an outage (exit 1), in ms. */
  timeoutMs: number;
  /** Ends the wait at once (exit 1, interrupted). Default: none. */
  signal?: AbortSignal | undefined;
  /**
   * Give up at the first connection error instead of waiting for Redis to come (the CLI's commands,
   * which fail fast; a worker waits). Default false.
   */
  failFast?: boolean;
}

/**
 * Waits until `redis` is ready. A configuration problem (above) ends the wait at once; `redis://` to a
 * TLS port is recognised by a TLS handshake on it after the first failure, and `rediss://` to a
 * plain-text port by a plain `PING` on it after the first failure or a second without an answer (a
 * plain-text Redis may never answer a TLS handshake). Throws `AppError`.
 */
export async function waitForRedis(redis: RedisClient, url: string, options: WaitOptions): Promise<void> {
  if (redis.status === 'ready') return;
  const interrupted = () =>
    new AppError('INTERRUPTED', `interrupted while waiting for Redis at ${redactUrl(url)}`);
  if (options.signal?.aborted) throw interrupted();
  const wantsTls = hostPort(url)?.protocol === 'rediss:';
  // The one check of the port's protocol, run once: the problem it finds, if any.
  const checkProtocol = async (cause: unknown): Promise<AppError | undefined> => {
    if (wantsTls) {
      if (!(await speaksPlainRedis(url))) return undefined;
      return new AppError(
        'CONFIG_INVALID',
        `REDIS_URL: the Redis at ${redactUrl(url)} answered in plain text: this port does not speak TLS; write redis:// instead of rediss://, or give the port of its TLS listener`,
        { cause },
      );
    }
    if (!(await speaksTls(url))) return undefined;
    return new AppError(
      'CONFIG_INVALID',
      `REDIS_URL: the Redis at ${redactUrl(url)} expects TLS: write rediss:// instead of redis://`,
      { cause },
    );
  };
  let lastError: unknown;
  let protocolChecked: Promise<AppError | undefined> | undefined;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(plainTextTimer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      redis.off('end', onEnd);
      options.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onReady = () => finish();
    const onError = (err: unknown) => {
      lastError = err;
      const problem = redisConfigProblem(err, url);
      if (problem) return finish(problem);
      void (protocolChecked ??= checkProtocol(err)).then((wrong) => {
        if (wrong) finish(wrong);
        else if (options.failFast) finish(unreachable(url, err));
      });
    };
    const onEnd = () => finish(unreachable(url, lastError));
    const onAbort = () => finish(interrupted());
    const timer = setTimeout(() => finish(unreachable(url, lastError, options.timeoutMs)), options.timeoutMs);
    const plainTextTimer = setTimeout(() => {
      if (wantsTls)
        void (protocolChecked ??= checkProtocol(undefined)).then((wrong) => wrong && finish(wrong));
    }, PLAIN_TEXT_CHECK_MS);
    redis.on('ready', onReady);
    redis.on('error', onError);
    redis.on('end', onEnd);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // The outcome arrives through the events above; connect()'s own rejection repeats it.
    if (redis.status === 'wait') redis.connect().catch(() => undefined);
  });
}

function unreachable(url: string, cause: unknown, waitedMs?: number): AppError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const why = [
    typeof code === 'string' ? code : undefined,
    waitedMs ? `no answer within ${waitedMs} ms` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  return new AppError(
    'SERVICE_UNAVAILABLE',
    `Redis is not reachable at ${redactUrl(url)}${why ? ` (${why})` : ''}: start it (see README, "Services") or set REDIS_URL`,
    { cause },
  );
}

/** What cams-enrich reads of a Redis server once connected. */
export interface RedisServerInfo {
  version: string | undefined;
  /** `maxmemory-policy`; BullMQ requires `noeviction`. */
  maxmemoryPolicy: string | undefined;
  /** `master` or `slave` (a replica). */
  role: string | undefined;
}

/** Parses the reply of `INFO` (`field:value` lines). */
export function parseInfo(text: string): RedisServerInfo {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) fields.set(line.slice(0, i), line.slice(i + 1));
  }
  return {
    version: fields.get('redis_version'),
    maxmemoryPolicy: fields.get('maxmemory_policy'),
    role: fields.get('role'),
  };
}

/**
 * Reads the server's INFO (which BullMQ needs too) and refuses a replica: cams-enrich writes. Throws
 * `AppError('CONFIG_INVALID')` for a user without INFO or a replica.
 */
export async function inspectRedisServer(redis: RedisClient, url: string): Promise<RedisServerInfo> {
  let info: RedisServerInfo;
  try {
    info = parseInfo(await redis.info());
  } catch (err) {
    throw redisConfigProblem(err, url) ?? unreachable(url, err);
  }
  if (info.role === 'slave') {
    throw new AppError(
      'CONFIG_INVALID',
      `REDIS_URL: the Redis at ${redactUrl(url)} is a read-only replica (role: replica): point REDIS_URL at the primary`,
    );
  }
  return info;
}

/** The warning for a server that may evict keys, or undefined when it may not. */
export function evictionWarning(info: Pick<RedisServerInfo, 'maxmemoryPolicy'>): string | undefined {
  const policy = info.maxmemoryPolicy;
  if (policy === undefined || policy === 'noeviction') return undefined;
  return `Redis maxmemory-policy is ${policy}; BullMQ requires noeviction (an evicted key is a lost job or lock): CONFIG SET maxmemory-policy noeviction, and in redis.conf`;
}

/** Reads the server's eviction policy (`INFO memory`) and returns the warning it deserves, if any. */
export async function readEvictionWarning(redis: RedisClient): Promise<string | undefined> {
  return evictionWarning(parseInfo(await redis.info('memory')));
}
