/**
 * Whether a Redis connection can be used, and when not, why, in words a user can act on. A wrong
 * password, a user without a needed command, a certificate the process does not trust, `redis://` to a
 * TLS port or a read-only replica are configuration to fix (exit 2 naming `REDIS_URL`), not an outage to
 * wait out; a server that does not answer is an outage (exit 1). Redis errors are told apart by the
 * error code a reply starts with (`WRONGPASS`, `NOAUTH`, `NOPERM`, `READONLY`), TLS errors by Node's code.
 */
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

/** True when a TLS handshake with the host and port of a `redis://` URL succeeds: the server wants `rediss://`. */
export async function speaksTls(url: string, timeoutMs = 2000): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'redis:') return false;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(u.port || 6379);
  return new Promise<boolean>((resolve) => {
    // Only whether the handshake completes matters here; nothing is sent over it.
    const socket = tlsConnect({ host, port, rejectUnauthorized: false });
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
 * TLS port is recognised by a TLS handshake on it after the first failure. Throws `AppError`.
 */
export async function waitForRedis(redis: RedisClient, url: string, options: WaitOptions): Promise<void> {
  if (redis.status === 'ready') return;
  const interrupted = () =>
    new AppError('INTERRUPTED', `interrupted while waiting for Redis at ${redactUrl(url)}`);
  if (options.signal?.aborted) throw interrupted();
  let lastError: unknown;
  let probedTls = false;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
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
      if (!probedTls) {
        probedTls = true;
        void speaksTls(url).then((tls) => {
          if (tls)
            finish(
              new AppError(
                'CONFIG_INVALID',
                `REDIS_URL: the Redis at ${redactUrl(url)} expects TLS: write rediss:// instead of redis://`,
                { cause: err },
              ),
            );
          else if (options.failFast) finish(unreachable(url, err));
        });
      }
    };
    const onEnd = () => finish(unreachable(url, lastError));
    const onAbort = () => finish(interrupted());
    const timer = setTimeout(() => finish(unreachable(url, lastError, options.timeoutMs)), options.timeoutMs);
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
