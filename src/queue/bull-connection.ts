/**
 * The connection handed to BullMQ: the ioredis client in BullMQ's own client adapter
 * (`createIORedisClient`, the `IRedisClient` its `connection` option takes), with one difference. Each
 * BullMQ connection reads `INFO` at start and prints `IMPORTANT! Eviction policy is …` with
 * `console.warn` when `maxmemory-policy` is not `noeviction`: a raw line outside the JSON log, once per
 * queue, worker and blocking connection. cams-enrich reads the policy itself when it connects and logs
 * one structured warning (`openRedis`, `status`, `/readyz`), so the `INFO` BullMQ reads here leaves the
 * policy line out; BullMQ reads nothing else from it but the server's version.
 */
import { createIORedisClient } from 'bullmq';
import type { IRedisClient } from 'bullmq';
import type { RedisClient } from './redis-script.js';

const POLICY_LINE = /^maxmemory_policy:.*(?:\r?\n|$)/m;

/** `INFO`'s text without its `maxmemory_policy` line. */
export function withoutEvictionPolicy(info: string): string {
  return info.replace(POLICY_LINE, '');
}

function quietInfo(client: IRedisClient): IRedisClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'info') {
        return async (...args: unknown[]) => {
          const text = await (target.info as (...a: unknown[]) => Promise<string>)(...args);
          return withoutEvictionPolicy(text);
        };
      }
      // BullMQ duplicates the connection for a worker's blocking reads: the copy says the same.
      if (prop === 'duplicate') return (...args: unknown[]) => quietInfo(target.duplicate(...args));
      return Reflect.get(target, prop, target) as unknown;
    },
  });
}

/** What to pass as BullMQ's `connection` for `redis` (the caller still owns and closes `redis`). */
export function bullConnection(redis: RedisClient): IRedisClient {
  return quietInfo(createIORedisClient(redis as Parameters<typeof createIORedisClient>[0]));
}
