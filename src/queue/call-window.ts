/**
 * The last guard before a CAMS call: a sliding one-second window in Redis, shared by every worker of
 * the account, that admits at most `rate` calls in any `windowMs` (measured on the Redis server's
 * clock, so machines' clocks do not matter). BullMQ's limiter spaces job starts evenly; this window
 * catches what happens between a job's start and its call (a slow database query, a busy CPU, a retry)
 * that could otherwise bunch calls together and make CAMS throttle them.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

// KEYS[1]: the window's sorted set. ARGV: window ms, limit, member.
// Returns 0 when a slot was taken, else the ms until the oldest call leaves the window.
const TAKE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now + 1)
`;

export interface CallWindowOptions {
  redis: Redis;
  /** Redis key of the window; one per account (queue). */
  key: string;
  /** Calls allowed in any window. */
  rate: number;
  /**
   * Window length in ms. Default 1000 plus a 30 ms margin for the time between taking a slot and the
   * call's arrival at CAMS.
   */
  windowMs?: number;
}

export interface CallWindow {
  /** Resolves when this process may make one call now; `signal` gives up waiting. */
  acquire(signal?: AbortSignal): Promise<void>;
}

export function createCallWindow(options: CallWindowOptions): CallWindow {
  const { redis, key, rate } = options;
  const windowMs = options.windowMs ?? 1030;
  return {
    async acquire(signal) {
      for (;;) {
        signal?.throwIfAborted();
        const wait = Number(await redis.eval(TAKE_SLOT, 1, key, windowMs, rate, randomUUID()));
        if (wait === 0) return;
        await sleep(wait, signal);
      }
    },
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
