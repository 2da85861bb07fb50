/**
 * The pool and the retry helper against a real PostgreSQL behind a proxy that cuts connections:
 * a client that dies while checked out neither crashes the process nor goes back into the pool,
 * connection failures are retried, rejected statements are not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, withTransaction } from '../src/db/pool.js';
import type { Pool } from '../src/db/pool.js';
import { isTransientDatabaseError, retryDatabase } from '../src/db/retry.js';
import { createLogger } from '../src/log.js';
import type { PgProxy } from './helpers/pg-proxy.js';
import { startPgProxy } from './helpers/pg-proxy.js';
import { waitFor } from './helpers/processes.js';
import { adminDatabaseUrl } from './helpers/services.js';

let proxy: PgProxy;
let pool: Pool;
const lines: string[] = [];

beforeAll(async () => {
  proxy = await startPgProxy(adminDatabaseUrl());
  const log = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } as never });
  pool = createPool(proxy.url, log, { max: 2 });
});

afterAll(async () => {
  await pool.end();
  await proxy.close();
});

describe('a PostgreSQL connection cut', () => {
  it('fails the transaction in progress, discards its client and logs no client object', async () => {
    // The transaction's first statement has run when the cut comes, its second runs after it.
    let entered!: () => void;
    const inTransaction = new Promise<void>((resolve) => (entered = resolve));
    let cutOver!: () => void;
    const afterCut = new Promise<void>((resolve) => (cutOver = resolve));
    const inside = withTransaction(pool, async (client) => {
      await client.query('SELECT 1');
      entered();
      await afterCut;
      return client.query('SELECT 2');
    });
    // Handled from the start: the cut may fail it while this test is still awaiting the cut itself.
    const outcome = inside.then(
      () => 'committed',
      (err: unknown) => err,
    );
    await inTransaction;
    await proxy.cut(100);
    cutOver();
    expect(await outcome).toBeInstanceOf(Error);
    expect(pool.totalCount).toBe(0);
    expect(pool.idleCount).toBe(0);
    // The pool works again once the server is back.
    await expect(pool.query('SELECT 3 AS n')).resolves.toMatchObject({ rows: [{ n: 3 }] });
    // An idle client cut: logged with message and code only.
    await proxy.cut(50);
    const logged = await waitFor("the idle client's loss to be logged", 10_000, () => {
      const text = lines.join('');
      return text.includes('ECONNRESET') && text;
    });
    expect(logged).not.toContain('secretKey');
    expect(logged).not.toContain('connectionParameters');
  });

  it('retries connection failures within the budget and not rejected statements', async () => {
    let tries = 0;
    let cutting: Promise<void> | undefined;
    const n = await retryDatabase(
      async () => {
        tries += 1;
        // The first try meets the cut: its connection is reset, or a new one turned away.
        if (tries === 1) cutting = proxy.cut(300);
        return (await pool.query<{ n: number }>('SELECT 4 AS n')).rows[0]!.n;
      },
      { baseMs: 50, budgetMs: 5000 },
    );
    await cutting;
    expect(n).toBe(4);
    expect(tries).toBeGreaterThan(1);

    let syntaxTries = 0;
    const err = await retryDatabase(
      () => {
        syntaxTries += 1;
        return pool.query('SELEC 1');
      },
      { baseMs: 10 },
    ).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('42601');
    expect(syntaxTries).toBe(1);
    expect(isTransientDatabaseError(new TypeError('x'))).toBe(false);
    // A plain Error is a bug, not an outage: thrown at once, not retried for a minute.
    let bugTries = 0;
    const bug = await retryDatabase(
      () => {
        bugTries += 1;
        throw new Error('a programming error');
      },
      { baseMs: 10 },
    ).catch((e: unknown) => e);
    expect(bug).toMatchObject({ message: 'a programming error' });
    expect(bugTries).toBe(1);
    expect(isTransientDatabaseError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
  });
});
