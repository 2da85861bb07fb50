import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import { useMigratedDatabase } from './helpers/database.js';
import { getRun } from '../src/db/runs.js';
import { createLogger } from '../src/log.js';
import type { SourceRow } from '../src/runs/import-run.js';
import { importRows, MAX_SPACE_LENGTH, MAX_STORED_RAW } from '../src/runs/import-run.js';
import { testQueueName } from './helpers/services.js';

const log = createLogger({ level: 'silent' });
const t = useMigratedDatabase(log);

async function* rowsOf(rows: SourceRow[], failAfter?: Error): AsyncIterable<SourceRow> {
  for (const row of rows) yield row;
  if (failAfter) throw failAfter;
}

describe('importRows', () => {
  it('records the rows of any source as a ready run, with per-row spaces and exact accounting', async () => {
    const { runId, rows, invalid } = await importRows(t.pool, log, {
      queue: testQueueName(),
      source: 'db:contacts',
      rows: rowsOf([
        { line: 1, phone: '+86 138 0000 1234', space: 'A' },
        { line: 2, phone: '8613800001234', space: 'A' },
        { line: 3, phone: '8613800001234', space: 'B' },
        { line: 4, phone: 'not a number', space: 'A' },
        { line: 5, phone: '+86 138 0000 5678', space: ' ' },
      ]),
      spaceColumnLabel: 'cust_space_id',
      maxAgeMs: 0,
      batchSize: 2,
    });
    expect({ rows, invalid }).toEqual({ rows: 5, invalid: 2 });
    const run = await getRun(t.pool, runId);
    expect(run).toMatchObject({
      source: 'db:contacts',
      state: 'ready',
      total: 5,
      invalid: 2,
      duplicate: 1,
      pending: 2,
    });
    const { rows: rejects } = await t.pool.query<{ line: string; reason: string }>(
      'SELECT line, reason FROM run_rejects WHERE run_id = $1 ORDER BY line',
      [runId],
    );
    expect(rejects.map((r) => [Number(r.line), r.reason])).toEqual([
      [4, 'contains letters'],
      [5, 'empty cust_space_id (CustSpaceId)'],
    ]);
  });

  it('records through a t.pool of two connections: one for the liveness mark, one merging', async () => {
    const small = createPool(t.db.url, log, { max: 2 });
    try {
      const { runId } = await importRows(small, log, {
        queue: testQueueName(),
        source: 'test',
        rows: rowsOf([
          { line: 1, phone: '8613800002001', space: 'A' },
          { line: 2, phone: '8613800002002', space: 'A' },
          { line: 3, phone: '8613800002001', space: 'A' },
        ]),
        maxAgeMs: 0,
        batchSize: 2,
      });
      expect(await getRun(t.pool, runId)).toMatchObject({
        state: 'ready',
        total: 3,
        duplicate: 1,
        pending: 2,
      });
    } finally {
      await small.end();
    }
  });

  it('creates no run when the source fails before its first row', async () => {
    const before = await t.pool.query<{ n: string }>('SELECT count(*) AS n FROM runs');
    await expect(
      importRows(t.pool, log, {
        queue: testQueueName(),
        source: 'db:query',
        rows: rowsOf([], new Error('relation "nope" does not exist')),
        space: 'S1',
        maxAgeMs: 0,
      }),
    ).rejects.toThrow('relation "nope" does not exist');
    const after = await t.pool.query<{ n: string }>('SELECT count(*) AS n FROM runs');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('aborts the run when the source fails midway, failing what it had accepted as IMPORT_ABORTED', async () => {
    const queue = testQueueName();
    await expect(
      importRows(t.pool, log, {
        queue,
        source: 'db:query',
        rows: rowsOf([{ line: 1, phone: '8613800001234' }], new Error('connection lost')),
        space: 'S1',
        maxAgeMs: 0,
      }),
    ).rejects.toThrow('connection lost');
    const { rows } = await t.pool.query<{ id: string }>('SELECT id FROM runs WHERE queue = $1', [queue]);
    const run = await getRun(t.pool, Number(rows[0]!.id));
    expect(run).toMatchObject({ state: 'aborted', total: 1, failed: 1, pending: 0 });
  });

  it('stores text PostgreSQL refuses cleaned, huge cells cut with a marker, and rejects bad space ids with their line', async () => {
    const huge = `x${'9'.repeat(300_000)}`;
    const { runId } = await importRows(t.pool, log, {
      queue: testQueueName(),
      source: 'db:hostile',
      rows: rowsOf([
        { line: 1, phone: '86138\u000000001234', space: 'A' },
        { line: 2, phone: huge, space: 'A' },
        { line: 3, phone: '8613800001234', space: 'A\u0000B' },
        { line: 4, phone: '8613800005678', space: 'S'.repeat(MAX_SPACE_LENGTH + 1) },
        { line: 5, phone: '8613800005678', space: 'S1' },
      ]),
      spaceColumnLabel: 'space_id',
      maxAgeMs: 0,
    });
    const run = await getRun(t.pool, runId);
    expect(run).toMatchObject({ state: 'ready', total: 5, invalid: 4, pending: 1 });
    const { rows } = await t.pool.query<{ line: string; raw: string; reason: string }>(
      'SELECT line, raw, reason FROM run_rejects WHERE run_id = $1 ORDER BY line',
      [runId],
    );
    expect(rows.map((r) => [Number(r.line), r.reason])).toEqual([
      [1, 'contains invalid characters'],
      [2, 'too long'],
      [3, 'space_id (CustSpaceId) contains control characters'],
      [4, `space_id (CustSpaceId) longer than ${MAX_SPACE_LENGTH} characters`],
    ]);
    expect(rows[0]!.raw).toBe('86138\u240000001234');
    expect(rows[1]!.raw).toBe(`${huge.slice(0, MAX_STORED_RAW)}… [${huge.length} characters]`);
  });

  it('writes the rejects of an aborted import, agreeing with its invalid count', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-import-run-'));
    try {
      const rejectsFile = join(dir, 'rejects.csv');
      const bad = Array.from({ length: 1500 }, (_, i) => ({ line: i + 2, phone: `bad ${i}` }));
      await expect(
        importRows(t.pool, log, {
          queue: testQueueName(),
          source: 'db:query',
          rows: rowsOf([...bad, { line: 1502, phone: '8613800001234' }], new Error('cut off')),
          space: 'S1',
          rejectsFile,
          maxAgeMs: 0,
        }),
      ).rejects.toThrow('cut off');
      const lines = (await readFile(rejectsFile, 'utf8')).trimEnd().split('\n');
      expect(lines).toHaveLength(1 + 1500);
      const { rows } = await t.pool.query<{ invalid: string; failed: string; total: string }>(
        "SELECT invalid, failed, total FROM runs WHERE source = 'db:query' ORDER BY id DESC LIMIT 1",
      );
      expect(rows[0]).toEqual({ invalid: '1500', failed: '1', total: '1501' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a rejects file that is the input before creating a run, and leaves the input intact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-import-run-'));
    try {
      const input = join(dir, 'in.csv');
      await writeFile(input, 'phone\n8613800001234\n');
      const queue = testQueueName();
      await expect(
        importRows(t.pool, log, {
          queue,
          source: 'csv:in.csv',
          rows: rowsOf([{ line: 2, phone: '8613800001234' }]),
          space: 'S1',
          rejectsFile: input,
          inputFile: input,
          maxAgeMs: 0,
        }),
      ).rejects.toMatchObject({ code: 'OUTPUT_FILE', exitCode: 2 });
      const { rows } = await t.pool.query('SELECT id FROM runs WHERE queue = $1', [queue]);
      expect(rows).toEqual([]);
      expect(await readFile(input, 'utf8')).toBe('phone\n8613800001234\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses ambiguous bare numbers and warns once with the bare numbers read as international, per calling code', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(
          ...String(chunk)
            .split('\n')
            .filter((l) => l !== ''),
        );
        done();
      },
    });
    const captured = createLogger({ level: 'info', destination });
    const result = await importRows(t.pool, captured, {
      queue: testQueueName(),
      source: 'db:contacts',
      space: 'S1',
      rows: rowsOf([
        { line: 1, phone: '18679190031' },
        { line: 2, phone: '8613800001234' },
        { line: 3, phone: '8613800005678' },
        { line: 4, phone: '6591234567' },
        { line: 5, phone: '+18679190031' },
        { line: 6, phone: '79161234567' },
      ]),
      maxAgeMs: 0,
    });
    expect(result).toMatchObject({ rows: 6, invalid: 2, readAsInternational: { '86': 2, '65': 1 } });
    const { rows: rejects } = await t.pool.query<{ line: string; reason: string }>(
      'SELECT line, reason FROM run_rejects WHERE run_id = $1 ORDER BY line',
      [result.runId],
    );
    expect(rejects.map((r) => [Number(r.line), r.reason])).toEqual([
      [1, 'ambiguous: +1 or a national number of CN; give --default-country or write it with +'],
      [6, 'ambiguous: +7 or a national number of CN; give --default-country or write it with +'],
    ]);
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg)).toEqual([
      '3 numbers without + or 00 read as international (+86: 2, +65: 1); if they are national numbers, import again with --default-country',
    ]);
  });

  it('gives no such warning when every number carries its country code', async () => {
    const result = await importRows(t.pool, log, {
      queue: testQueueName(),
      source: 'db:contacts',
      space: 'S1',
      rows: rowsOf([
        { line: 1, phone: '+8613800001234' },
        { line: 2, phone: '13800001234' },
      ]),
      defaultCountry: 'CN',
      maxAgeMs: 0,
    });
    expect(result).toMatchObject({ rows: 2, invalid: 0, readAsInternational: {} });
  });
});
