import { describe, expect, it } from 'vitest';
import type { BusinessProfile } from '../src/cams/profile.js';
import { batched } from '../src/db/batcher.js';
import { useMigratedDatabase } from './helpers/database.js';
import { createRun, getRun, markReady } from '../src/db/runs.js';
import { checkPending } from '../src/db/sql/check-pending.js';
import { settleNumbers } from '../src/db/sql/settle-numbers.js';
import { createLogger } from '../src/log.js';
import { testQueueName } from './helpers/services.js';

describe('batched', () => {
  it('answers the calls of one turn with one batch, in order', async () => {
    const batches: number[][] = [];
    const call = batched(
      (n: number) => Promise.resolve(n * 10),
      (ns) => {
        batches.push([...ns]);
        return Promise.resolve(ns.map((n) => n * 10));
      },
    );
    expect(await Promise.all([call(1), call(2), call(3)])).toEqual([10, 20, 30]);
    expect(await call(4)).toBe(40); // alone: no batch
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('falls back to one call per item when a batch fails, so only the bad item fails', async () => {
    const call = batched(
      (n: number) => (n === 2 ? Promise.reject(new Error('bad 2')) : Promise.resolve(n)),
      () => Promise.reject(new Error('batch failed')),
    );
    const results = await Promise.allSettled([call(1), call(2), call(3)]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      1,
      'bad 2',
      3,
    ]);
  });

  it('splits a large turn into batches of at most maxBatch', async () => {
    const sizes: number[] = [];
    const call = batched(
      (n: number) => Promise.resolve(n),
      (ns) => {
        sizes.push(ns.length);
        return Promise.resolve([...ns]);
      },
      4,
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => call(i)));
    expect(sizes).toEqual([4, 4, 2]);
  });
});

describe('batched ledger statements', () => {
  const log = createLogger({ level: 'silent' });
  const t = useMigratedDatabase(log);

  const profile = (about: string): BusinessProfile => ({
    vertical: 'Retail',
    description: null,
    email: null,
    address: null,
    profilePictureUrl: null,
    websites: ['https://a.example', 'https://b.example'],
    about,
    requestId: `req-${about}`,
    raw: { About: about },
  });

  async function runWith(phones: string[]): Promise<number> {
    const runId = await createRun(t.pool, { queue: testQueueName(), source: 'test', maxAgeMs: 0 });
    await t.pool.query(
      `INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state)
       SELECT $1, 'S', p, n, 'pending' FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n)`,
      [runId, phones],
    );
    await t.pool.query('UPDATE runs SET total = $2, pending = $2 WHERE id = $1', [runId, phones.length]);
    await markReady(t.pool, runId);
    return runId;
  }

  it('stores several profiles and settles every run waiting for them in one statement', async () => {
    const a = await runWith(['8613800000001', '8613800000002', '8613800000003']);
    const b = await runWith(['8613800000002']);
    const settled = await settleNumbers(t.pool, [
      { kind: 'profile', custSpaceId: 'S', phoneNumber: '8613800000002', profile: profile('two') },
      { kind: 'profile', custSpaceId: 'S', phoneNumber: '8613800000001', profile: profile('one') },
      { kind: 'profile', custSpaceId: 'S', phoneNumber: '8613800000009', profile: profile('nine') },
    ]);
    expect(settled).toEqual([2, 1, 0]);
    expect(await getRun(t.pool, a)).toMatchObject({ enriched: 2, pending: 1, finishedAt: null });
    const runB = await getRun(t.pool, b);
    expect(runB).toMatchObject({ enriched: 1, pending: 0 });
    expect(runB?.finishedAt).toBeInstanceOf(Date);
    const { rows } = await t.pool.query<{ phone_number: string; about: string; websites: string[] }>(
      `SELECT phone_number, about, websites FROM business_profiles ORDER BY phone_number`,
    );
    expect(rows).toEqual([
      { phone_number: '8613800000001', about: 'one', websites: ['https://a.example', 'https://b.example'] },
      { phone_number: '8613800000002', about: 'two', websites: ['https://a.example', 'https://b.example'] },
      { phone_number: '8613800000009', about: 'nine', websites: ['https://a.example', 'https://b.example'] },
    ]);
  });

  it('checks several numbers in one statement, each answer in its place', async () => {
    const first = await runWith(['8613800000021', '8613800000022']);
    await settleNumbers(t.pool, [
      { kind: 'profile', custSpaceId: 'S', phoneNumber: '8613800000022', profile: profile('x') },
      { kind: 'profile', custSpaceId: 'S', phoneNumber: '8613800000099', profile: profile('y') },
    ]);
    const later = await runWith(['8613800000099']);
    expect(later).toBeGreaterThan(0);
    const answers = await checkPending(t.pool, [
      { custSpaceId: 'S', phoneNumber: '8613800000021' },
      { custSpaceId: 'S', phoneNumber: '8613800000022' },
      { custSpaceId: 'S', phoneNumber: '8613800000099' },
      { custSpaceId: 'S', phoneNumber: '8613800000077' },
    ]);
    // 21: pending, no profile; 22: settled by the profile; 99: pending in a run created after the fetch
    // with max age 0, so the stored profile is not fresh for it; 77: never imported. A call names the
    // oldest run waiting, which the usage figures count it for.
    expect(answers).toEqual([
      { kind: 'call', runId: first, checkedAt: expect.any(String) },
      { kind: 'nothing-pending' },
      { kind: 'call', runId: later, checkedAt: expect.any(String) },
      { kind: 'nothing-pending' },
    ]);
  });

  it('settles a profile, a failure and a stored profile in one statement, each its own way', async () => {
    await settleNumbers(t.pool, [
      { kind: 'profile', custSpaceId: 'S', phoneNumber: '8613800000033', profile: profile('old') },
    ]);
    const run = await runWith(['8613800000031', '8613800000032', '8613800000033']);
    const settled = await settleNumbers(t.pool, [
      {
        kind: 'failure',
        custSpaceId: 'S',
        phoneNumber: '8613800000032',
        code: 'X',
        message: 'no',
        remember: true,
      },
      { kind: 'store', custSpaceId: 'S', phoneNumber: '8613800000033' },
      { kind: 'profile', custSpaceId: 'S', phoneNumber: '8613800000031', profile: profile('new') },
    ]);
    expect(settled).toEqual([1, 1, 1]);
    // 33's profile was fetched before the run was created: served from the store, it counts as skipped.
    expect(await getRun(t.pool, run)).toMatchObject({ enriched: 1, failed: 1, skipped: 1, pending: 0 });
    const { rows } = await t.pool.query<{ phone_number: string; state: string; error_code: string | null }>(
      `SELECT phone_number, state, error_code FROM run_items WHERE run_id = $1 ORDER BY phone_number`,
      [run],
    );
    expect(rows).toEqual([
      { phone_number: '8613800000031', state: 'enriched', error_code: null },
      { phone_number: '8613800000032', state: 'failed', error_code: 'X' },
      { phone_number: '8613800000033', state: 'skipped', error_code: null },
    ]);
    const remembered = await t.pool.query('SELECT 1 FROM number_failures WHERE phone_number = $1', [
      '8613800000032',
    ]);
    expect(remembered.rowCount).toBe(1);
  });
});
