/**
 * The stores of the rate controller's state as the contract suite (`rate-controller.test.ts`) uses
 * them: each `open` is a connection of its own, as a process would have, and `slotTimes` reads the
 * slots the controller recorded straight from the store.
 */
import type { Redis } from 'ioredis';
import { accountRateKey, createRedisRateState, limiterKeys } from '../../src/queue/rate-controller.js';
import type { RateStateStore } from '../../src/queue/rate-controller.js';
import { testRedis } from './services.js';

export interface StoreFixture {
  name: string;
  /** The account's state over a connection of its own. */
  open(account: string): RateStateStore;
  /** Slot times as the controller recorded them for the account. */
  slotTimes(account: string): Promise<number[]>;
  /** Now on the store's server's clock, in ms. */
  serverNow(): Promise<number>;
  /** Forgets the accounts opened and closes the connections (after each test). */
  cleanup(): Promise<void>;
}

export function redisStore(): StoreFixture {
  const connections: Redis[] = [];
  const accounts = new Set<string>();
  const connection = () => {
    const c = testRedis();
    connections.push(c);
    return c;
  };
  return {
    name: 'Redis',
    open(account) {
      accounts.add(account);
      return createRedisRateState(connection(), account);
    },
    async slotTimes(account) {
      const flat = await connection().zrange(limiterKeys(accountRateKey(account))[1], 0, -1, 'WITHSCORES');
      return flat.filter((_, i) => i % 2 === 1).map(Number);
    },
    async serverNow() {
      const [sec, micro] = await connection().time();
      return Number(sec) * 1000 + Number(micro) / 1000;
    },
    async cleanup() {
      const [first] = connections;
      if (first && accounts.size > 0)
        await first.del(...[...accounts].flatMap((a) => limiterKeys(accountRateKey(a))));
      accounts.clear();
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    },
  };
}
