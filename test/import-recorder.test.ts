import { describe, expect, it } from 'vitest';
import { openImportRecorder } from '../src/db/import-recorder.js';
import { useMigratedDatabase } from './helpers/database.js';
import { createRun, getRun } from '../src/db/runs.js';
import { createLogger } from '../src/log.js';
import { testQueueName } from './helpers/services.js';

const log = createLogger({ level: 'silent' });
const t = useMigratedDatabase(log);

const newRun = (maxAgeMs = 0) => createRun(t.pool, { queue: testQueueName(), source: 'test', maxAgeMs });

describe('the import recorder (COPY into staging, one merge per chunk)', () => {
  it('keeps text with tabs, newlines, carriage returns and backslashes exactly as read', async () => {
    const runId = await newRun();
    const recorder = await openImportRecorder(t.pool, runId);
    const space = 'space\twith\\tabs\nand\rbreaks \\N';
    const raw = 'not\ta\\number\n\\N';
    await recorder.record(
      [{ line: 1, custSpaceId: space, phoneNumber: '8613800001234' }],
      [{ line: 2, raw, reason: 'contains letters' }],
    );
    await recorder.close();
    const { rows: items } = await t.pool.query<{ cust_space_id: string }>(
      'SELECT cust_space_id FROM run_items WHERE run_id = $1',
      [runId],
    );
    const { rows: rejects } = await t.pool.query<{ raw: string }>(
      'SELECT raw FROM run_rejects WHERE run_id = $1',
      [runId],
    );
    expect(items).toEqual([{ cust_space_id: space }]);
    expect(rejects).toEqual([{ raw }]);
  });

  it('counts a number repeated within and across chunks as duplicate and keeps its first line', async () => {
    const runId = await newRun();
    const recorder = await openImportRecorder(t.pool, runId);
    const row = (line: number, phone: string) => ({ line, custSpaceId: 'A', phoneNumber: phone });
    await recorder.record([row(1, '8613800000001'), row(2, '8613800000002'), row(3, '8613800000001')], []);
    await recorder.record(
      [row(4, '8613800000002'), row(5, '8613800000003')],
      [{ line: 6, raw: 'x', reason: 'contains letters' }],
    );
    await recorder.close();
    expect(await getRun(t.pool, runId)).toMatchObject({ total: 6, invalid: 1, duplicate: 2, pending: 3 });
    const { rows } = await t.pool.query<{ phone_number: string; line: string }>(
      'SELECT phone_number, line FROM run_items WHERE run_id = $1 ORDER BY phone_number',
      [runId],
    );
    expect(rows.map((r) => [r.phone_number, Number(r.line)])).toEqual([
      ['8613800000001', 1],
      ['8613800000002', 2],
      ['8613800000003', 5],
    ]);
  });

  it('applies the freshness rule: skipped for a fresh profile, failed for a fresh refusal, else pending', async () => {
    await t.pool.query(
      `INSERT INTO business_profiles (cust_space_id, phone_number, fetched_at) VALUES
         ('F', '8613800000010', now()), ('F', '8613800000011', now() - interval '2 days')`,
    );
    await t.pool.query(
      `INSERT INTO number_failures (cust_space_id, phone_number, error_code, error_message) VALUES
         ('F', '8613800000012', 'Unknown.ResourceOwnerId', 'no such owner')`,
    );
    const runId = await newRun(24 * 3600 * 1000);
    const recorder = await openImportRecorder(t.pool, runId);
    const phones = ['8613800000010', '8613800000011', '8613800000012', '8613800000013'];
    await recorder.record(
      phones.map((phoneNumber, i) => ({ line: i + 1, custSpaceId: 'F', phoneNumber })),
      [],
    );
    await recorder.close();
    const { rows } = await t.pool.query<{ phone_number: string; state: string; error_code: string | null }>(
      'SELECT phone_number, state, error_code FROM run_items WHERE run_id = $1 ORDER BY phone_number',
      [runId],
    );
    expect(rows.map((r) => [r.state, r.error_code])).toEqual([
      ['skipped', null],
      ['pending', null],
      ['failed', 'Unknown.ResourceOwnerId'],
      ['pending', null],
    ]);
    expect(await getRun(t.pool, runId)).toMatchObject({ total: 4, skipped: 1, failed: 1, pending: 2 });
  });

  it('reports a chunk PostgreSQL refused, leaves the run as it was, and can still be closed', async () => {
    const runId = await newRun();
    const recorder = await openImportRecorder(t.pool, runId);
    // A NUL byte is not valid in PostgreSQL text: the chunk's transaction fails as a whole.
    await recorder.record([{ line: 1, custSpaceId: 'A\u0000B', phoneNumber: '8613800000001' }], []);
    await expect(recorder.close()).rejects.toThrow();
    await expect(recorder.close()).rejects.toThrow();
    expect(await getRun(t.pool, runId)).toMatchObject({ total: 0, pending: 0 });
  });
});
