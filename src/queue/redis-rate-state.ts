/**
 * The rate controller's state in Redis: a hash and three sorted sets under the account's hash tag
 * (`accountRateKey`), changed by the scripts `lua/rate-*.lua` on the Redis server's clock (`TIME`), so
 * every process of the fleet shares one state and one clock. Each operation is one script call.
 */
import type { RateStateStore, TakeReply } from './rate-state.js';
import {
  ConfirmReply,
  QuotaReply,
  ReachableReply,
  ReadReply,
  TakeReply as TakeShape,
  ThrottledReply,
  UnreachableReply,
} from './rate-state.js';
import type { RedisClient } from './redis-script.js';
import { loadScript, runScript } from './redis-script.js';

/** The scripts' folder, from the package root; each file's header names its KEYS and ARGV. */
const LUA = 'src/queue/lua';
const script = (file: string) => loadScript(LUA, file);

/**
 * The Redis key of an account's controller, under a hash tag of the account's own so that a Redis
 * Cluster keeps its keys together: `cams-enrich:{acct:<account>}:rate`. Every queue of the account
 * shares it, so they must share one Redis database.
 */
export function accountRateKey(account: string): string {
  return `cams-enrich:{acct:${account}}:rate`;
}

/**
 * The state keys a controller uses (state, slots, throttles, waiting calls); delete them to forget what
 * it learned.
 */
export function limiterKeys(key: string): [string, string, string, string] {
  return [key, `${key}:slots`, `${key}:throttles`, `${key}:waiting`];
}

/** An account's controller state in Redis. */
export function createRedisRateState(redis: RedisClient, account: string): RateStateStore {
  return redisRateStateAt(redis, accountRateKey(account));
}

/** The controller state at `key` (`accountRateKey(account)` in production; a key of its own in tests). */
export function redisRateStateAt(redis: RedisClient, key: string): RateStateStore {
  const all = limiterKeys(key);
  // Only `take` reads the waiting calls.
  const keys = all.slice(0, 3);
  return {
    kind: 'redis',
    maxBatch: 1,
    async take(args, members) {
      // One script call per member; after the first refusal the next ones would be refused the same.
      const replies: TakeReply[] = [];
      for (const member of members) {
        const last = replies.at(-1);
        if (last && !last.granted) replies.push(last);
        else
          replies.push(
            await runScript(redis, script('rate-take-4.lua'), all, { ...args, member }, TakeShape),
          );
      }
      return replies;
    },
    confirm: (args) => runScript(redis, script('rate-confirm-3.lua'), keys, { ...args }, ConfirmReply),
    async release(member) {
      await redis.zrem(all[1], member);
    },
    throttled: (args) => runScript(redis, script('rate-throttled-3.lua'), keys, { ...args }, ThrottledReply),
    unreachable: (args) =>
      runScript(redis, script('rate-unreachable-3.lua'), keys, { ...args }, UnreachableReply),
    reachable: () => runScript(redis, script('rate-reachable-1.lua'), [all[0]], {}, ReachableReply),
    read: (args) => runScript(redis, script('rate-read-3.lua'), keys, { ...args }, ReadReply),
    claimQuota: (args) => runScript(redis, script('rate-quota-1.lua'), [all[0]], { ...args }, QuotaReply),
    async forget() {
      await redis.del(...all);
    },
  };
}
