/**
 * The stores of the rate controller's state as the contract suite (`rate-controller.test.ts`) uses
 * them: each `open` is a connection of its own (a pool of its own for PostgreSQL), as a process would
 * have, and `slotTimes` reads the slots the controller recorded straight from the store.
 */
import type { Redis } from 'ioredis';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import type { Pool } from '../../src/db/pool.js';
import { createLogger } from '../../src/log.js';
import { createPostgresRateState } from '../../src/queue/postgres-rate-state.js';
import { accountRateKey, createRedisRateState, limiterKeys } from '../../src/queue/rate-controller.js';
import type { RateStateStore } from '../../src/queue/rate-controller.js';
import type { TestDatabase } from './services.js';
import { createTestDatabase, testRedis } from './services.js';
import { TestClock } from './test-clock.js';

export interface StoreFixture {
  name: string;
  /** Readies the store's server for the suite (before all its tests). */
  setup(): Promise<void>;
  /** Undoes `setup` (after all its tests). */
  teardown(): Promise<void>;
  /** The account's state over a connection of its own. */
  open(account: string): RateStateStore;
  /** A test clock for controllers on this store's states: it knows when none of them is waiting for the store. */
  clock(): TestClock;
  /** Slot times as the controller recorded them for the account. */
  slotTimes(account: string): Promise<number[]>;
  /** Now on the store's server's clock, in ms. */
  serverNow(): Promise<number>;
  /** Forgets the accounts opened and closes the connections (after each test). */
  cleanup(): Promise<void>;
}

/** Operations of the stores opened that have not answered yet. */
class InFlight {
  count = 0;
  /** The store, counting its operations in flight. */
  track(state: RateStateStore): RateStateStore {
    const wrapped = { ...state };
    for (const [name, value] of Object.entries(state)) {
      if (typeof value !== 'function') continue;
      (wrapped as Record<string, unknown>)[name] = (...args: unknown[]) => {
        this.count += 1;
        const done = () => (this.count -= 1);
        const p = (value as (...a: unknown[]) => Promise<unknown>).apply(state, args);
        p.then(done, done);
        return p;
      };
    }
    return wrapped;
  }
}

export function redisStore(): StoreFixture {
  const connections: Redis[] = [];
  const accounts = new Set<string>();
  const inFlight = new InFlight();
  const connection = () => {
    const c = testRedis();
    connections.push(c);
    return c;
  };
  return {
    name: 'Redis',
    setup: () => Promise.resolve(),
    teardown: () => Promise.resolve(),
    open(account) {
      accounts.add(account);
      return inFlight.track(createRedisRateState(connection(), account));
    },
    clock: () => new TestClock({ idle: () => inFlight.count === 0 }),
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

export interface PostgresStoreFixture extends StoreFixture {
  /** The suite's database. */
  databaseUrl(): string;
  /** The account's state over a pool of its own on `url` (the suite's database, e.g. through PgBouncer). */
  openAt(url: string, account: string): RateStateStore;
}

/** The PostgreSQL store on a migrated database of the suite's own. */
export function postgresStore(): PostgresStoreFixture {
  const log = createLogger({ level: 'silent' });
  let db: TestDatabase | undefined;
  let admin: Pool | undefined;
  const pools: Pool[] = [];
  const accounts = new Set<string>();
  const inFlight = new InFlight();
  const ready = () => {
    if (!db || !admin) throw new Error('the PostgreSQL store is set up before the suite');
    return { db, admin };
  };
  return {
    name: 'PostgreSQL',
    async setup() {
      db = await createTestDatabase({ migrated: true });
      admin = createPool(db.url, log, { max: 2 });
      await migrate(admin, log);
    },
    async teardown() {
      await admin?.end();
      await db?.drop();
    },
    databaseUrl: () => ready().db.url,
    open(account) {
      return this.openAt(ready().db.url, account);
    },
    openAt(url, account) {
      accounts.add(account);
      const pool = createPool(url, log, { max: 4 });
      pools.push(pool);
      return inFlight.track(createPostgresRateState(pool, account));
    },
    clock: () => new TestClock({ idle: () => inFlight.count === 0 }),
    async slotTimes(account) {
      const { rows } = await ready().admin.query<{ at: number }>(
        'SELECT at FROM rate_slots WHERE account = $1',
        [account],
      );
      return rows.map((r) => r.at);
    },
    async serverNow() {
      const { rows } = await ready().admin.query<{ now: number }>(
        'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::double precision AS now',
      );
      return rows[0]!.now;
    },
    async cleanup() {
      const { admin: pool } = ready();
      for (const account of accounts) await createPostgresRateState(pool, account).forget();
      accounts.clear();
      await Promise.all(pools.splice(0).map((p) => p.end()));
    },
  };
}
