/**
 * The rate controller's state in PostgreSQL: a row per account in `rate_state` with its slots and
 * throttles (`rate_slots`, `rate_throttles`) and waiting calls (`rate_waiting`), changed by the
 * functions `rate_*` of the migrations `0013_rate_state.sql` and `0019_rate_waiting.sql`, each the PL/pgSQL twin of one script of `lua/` (`rate_take` is
 * `rate-take-4.lua`): the same named arguments, state, rules and replies, on the server's clock
 * (`clock_timestamp()`). Each operation is one statement, one round trip, sent outside a transaction
 * on a connection of the pool: the function locks the account's row for that statement only, so it
 * holds through PgBouncer's transaction pooling, and a role with the documented data privileges
 * (EXECUTE on the schema's functions, DML on its tables) may run it. `take` reserves the slots of up to
 * `maxBatch` waiting calls in one call.
 */
import pg from 'pg';
import { z } from 'zod';
import { DEFAULT_SCHEMA } from '../config.js';
import type { Pool } from '../db/pool.js';
import { withClient } from '../db/pool.js';
import type { RateStateStore } from './rate-state.js';
import {
  ConfirmReply,
  QuotaReply,
  ReachableReply,
  ReadReply,
  TakeReply,
  ThrottledReply,
  UnreachableReply,
} from './rate-state.js';
import { decodeReply } from './redis-script.js';

export interface PostgresRateStateOptions {
  /** The ledger's schema, where the migrations created the functions. Default `cams_enrich`. */
  schema?: string;
  /** Most slots one `take` reserves. Default 32. */
  maxBatch?: number;
}

/** An account's controller state in PostgreSQL (the account as the Redis store keys it). */
export function createPostgresRateState(
  pool: Pool,
  account: string,
  options: PostgresRateStateOptions = {},
): RateStateStore {
  const schema = pg.escapeIdentifier(options.schema ?? DEFAULT_SCHEMA);
  const maxBatch = options.maxBatch ?? 32;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1))
    throw new RangeError(`maxBatch must be a positive integer`);

  /** One call of `fn(account, ...params)`: one statement outside a transaction, one round trip. */
  async function run(fn: string, params: unknown[], casts: string[]): Promise<unknown> {
    const args = ['$1::text', ...casts.map((cast, i) => `$${i + 2}::${cast}`)].join(', ');
    const { rows } = await withClient(pool, (client) =>
      client.query<{ reply: unknown }>(`SELECT ${schema}.${fn}(${args})::text AS reply`, [
        account,
        ...params,
      ]),
    );
    return rows[0]?.reply;
  }
  /** `fn(account, args)` with the operation's named arguments; its jsonb reply decoded strictly. */
  const call = async <T>(fn: string, args: object, shape: z.ZodType<T>): Promise<T> =>
    decodeReply(fn, await run(fn, [JSON.stringify(args)], ['jsonb']), shape);

  return {
    kind: 'postgres',
    maxBatch,
    async take(args, members) {
      if (members.length === 0) return [];
      const raw = await run('rate_take', [JSON.stringify(args), members], ['jsonb', 'text[]']);
      return decodeReply('rate_take', raw, z.array(TakeReply).length(members.length));
    },
    confirm: (args) => call('rate_confirm', args, ConfirmReply),
    async release(member) {
      await run('rate_release', [member], ['text']);
    },
    throttled: (args) => call('rate_throttled', args, ThrottledReply),
    unreachable: (args) => call('rate_unreachable', args, UnreachableReply),
    reachable: async () => decodeReply('rate_reachable', await run('rate_reachable', [], []), ReachableReply),
    read: (args) => call('rate_read', args, ReadReply),
    claimQuota: (args) => call('rate_quota', args, QuotaReply),
    async forget() {
      await run('rate_forget', [], []);
    },
  };
}
