/**
 * This machine's clock against the queue store's server (Redis's `TIME`, PostgreSQL's
 * `clock_timestamp()`), the one clock every worker of a fleet shares. CAMS refuses a request whose
 * timestamp is more than 15 minutes off its own clock; a worker more than 5 minutes off the store's
 * stops before it gets there, and the other workers go on.
 */
import type { RedisClient } from './redis-script.js';
import { AppError } from '../errors.js';

/** How far this machine's clock may be from the store's server before a worker stops. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** The Redis server's clock, in ms since the epoch. */
export async function redisTimeMs(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** A server's clock: a queue store (`QueueStore.timeMs`). */
export interface ServerClock {
  timeMs(): Promise<number>;
}

/**
 * How far `now` is ahead of the server's clock, in ms (negative: behind), taken at the middle of the
 * round trip.
 */
export async function clockSkewMs(server: ServerClock, now: () => number = Date.now): Promise<number> {
  const before = now();
  const serverMs = await server.timeMs();
  const after = now();
  return Math.round((before + after) / 2) - serverMs;
}

/**
 * The error that stops a worker whose clock is `skewMs` off the `server`'s (`Redis`, `PostgreSQL`), or
 * undefined when it is close enough.
 */
export function clockSkewProblem(skewMs: number, server = 'Redis'): AppError | undefined {
  if (Math.abs(skewMs) <= MAX_CLOCK_SKEW_MS) return undefined;
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  return new AppError(
    'CLOCK_SKEW',
    `this machine's clock is ${seconds} s ${skewMs > 0 ? 'ahead of' : 'behind'} the ${server} server's (at most ${
      MAX_CLOCK_SKEW_MS / 1000
    } s allowed): CAMS would refuse its calls (InvalidTimeStamp.Expired), so this worker makes none; set its time right (NTP: chrony, systemd-timesyncd) and start it again`,
  );
}

/**
 * What CAMS said about this machine's clock, as the error that stops its worker: the clock is
 * more than 15 minutes off CAMS's, whatever the store's server says.
 */
export function camsClockProblem(code: string): AppError {
  return new AppError(
    'CLOCK_SKEW',
    `CAMS refused this machine's request time (${code}): its clock is more than 15 minutes off; this worker stops and its numbers go back to the queue; set its time right (NTP: chrony, systemd-timesyncd) and start it again`,
  );
}
