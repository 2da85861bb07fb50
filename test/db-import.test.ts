/**
 * Runs from a CRM database: a contacts table in a database of its own (not the ledger's), read through
 * a cursor in a READ ONLY transaction, through the same normalise → record → ready path as a CSV file.
 */
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { importFromDatabase } from '../src/runs/db-import.js';
import { readDbRows, quoteTableName } from '../src/sources/db-source.js';
import { runStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import type { TestDatabase } from './helpers/services.js';
import { createTestDatabase } from './helpers/services.js';
import { assertBuilt, killAll, pipelineEnv, startCli } from './helpers/processes.js';

const MONTH = 30 * 24 * 3600 * 1000;
let crm: TestDatabase;
let crmPool: pg.Pool;
let p: Pipeline | undefined;

/** `count` distinct valid Chinese mobile numbers, digits with country code. */
function numbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `86138${String(10_000_000 + start + i * 7919).slice(-8)}`);
}

/** The same number written the ways a CRM holds them. */
function formatted(n: string, i: number): string {
  const national = n.slice(2);
  switch (i % 5) {
    case 0:
      return `+86 ${national.slice(0, 3)} ${national.slice(3, 7)} ${national.slice(7)}`;
    case 1:
      return `0086-${national}`;
    case 2:
      return n;
    case 3:
      return `(+86) ${national.slice(0, 3)}-${national.slice(3, 7)}-${national.slice(7)}`;
    default:
      return `+86.${national.slice(0, 3)}.${national.slice(3, 7)}.${national.slice(7)}`;
  }
}

const INVALID = ['n/a', '', '12345', '=cmd()', '+999 1234 5678', null];

/**
 * Fills `crm.<table>` with `valid` numbers in mixed formats, then `duplicates` of the first ones in
 * another format, then the invalid values; `region` alternates 'north'/'south'.
 */
async function fillContacts(table: string, valid: string[], duplicates: number): Promise<void> {
  await crmPool.query(
    `CREATE TABLE ${table} (id serial PRIMARY KEY, name text, mobile text, space text, region text)`,
  );
  const mobiles: (string | null)[] = [
    ...valid.map((n, i) => formatted(n, i)),
    ...valid.slice(0, duplicates).map((n, i) => formatted(n, i + 1)),
    ...INVALID,
  ];
  await crmPool.query(
    `INSERT INTO ${table} (name, mobile, space, region)
     SELECT 'contact ' || i, m, 'S1', CASE WHEN i % 2 = 0 THEN 'north' ELSE 'south' END
     FROM unnest($1::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i`,
    [mobiles],
  );
}

beforeAll(async () => {
  assertBuilt();
  crm = await createTestDatabase();
  crmPool = new pg.Pool({ connectionString: crm.url, max: 2 });
  crmPool.on('error', () => undefined);
  await fillContacts('contacts', numbers(290), 4); // 300 rows: 290 valid (4 of them twice), 6 invalid
  // 5000 rows: 4000 distinct numbers in mixed formats, 900 of them again in another format, 100 invalid.
  const many = numbers(4000, 500_000);
  const mixed: (string | null)[] = many.map((n, i) => formatted(n, i));
  for (let k = 0; k < 900; k++) mixed.splice(k * 5 + 3, 0, formatted(many[k * 4]!, k * 4 + 2));
  for (let k = 0; k < 100; k++) mixed.splice(k * 50 + 7, 0, INVALID[k % INVALID.length]!);
  await crmPool.query(`CREATE TABLE many_contacts (id serial PRIMARY KEY, phone text)`);
  await crmPool.query(
    `INSERT INTO many_contacts (phone) SELECT m FROM unnest($1::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i`,
    [mixed],
  );
  await crmPool.query('CREATE SCHEMA sales');
  await crmPool.query(`CREATE TABLE sales."Leads" ("Phone No" bigint, cust text)`);
  await crmPool.query(
    `INSERT INTO sales."Leads" SELECT ('86139' || lpad((10000000 + i * 13)::text, 8, '0'))::bigint, 'S2'
     FROM generate_series(1, 3000) AS i`,
  );
});

afterAll(async () => {
  await crmPool?.end();
  await crm?.drop();
});

afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
});

async function enqueue(
  pipeline: Pipeline,
  options: Omit<Parameters<typeof importFromDatabase>[2], 'queue' | 'sourceUrl' | 'maxAgeMs'>,
) {
  const { runId } = await importFromDatabase(pipeline.pool, pipeline.log, {
    queue: pipeline.queueName,
    sourceUrl: crm.url,
    maxAgeMs: MONTH,
    ...options,
  });
  return runId;
}

describe('enqueue-db', () => {
  it('enriches exactly the valid unique contacts of a 300-row CRM table in another database', async () => {
    p = await startPipeline({ rate: 50 });
    const runId = await enqueue(p, { spec: { table: 'contacts', phoneColumn: 'mobile' }, space: 'S1' });
    p.startWorkers(2);
    const s = await p.waitFinished(runId, 90_000);
    expect(s).toMatchObject({
      source: 'db:contacts',
      total: 300,
      invalid: 6,
      duplicate: 4,
      enriched: 290,
      failed: 0,
      pending: 0,
    });
    const c = p.sim.counters();
    expect(c.ok).toBe(290);
    expect(Object.values(c.okByNumber).every((n) => n === 1)).toBe(true);
    const { rows } = await p.pool.query<{ line: string; raw: string; reason: string }>(
      'SELECT line, raw, reason FROM run_rejects WHERE run_id = $1 ORDER BY line',
      [runId],
    );
    // The row number of the query plays the role of the CSV line; a NULL phone reads as empty.
    expect(rows.map((r) => Number(r.line))).toEqual([295, 296, 297, 298, 299, 300]);
    expect(rows.map((r) => r.raw)).toEqual(['n/a', '', '12345', '=cmd()', '+999 1234 5678', '']);
  }, 120_000);

  it('records thousands of rows of a schema-qualified table with quoted names and a per-row space column', async () => {
    p = await startPipeline();
    const runId = await enqueue(p, {
      spec: { table: 'sales."Leads"', phoneColumn: 'Phone No', spaceColumn: 'cust' },
    });
    const s = await runStatus(p.pool, runId);
    expect(s).toMatchObject({
      source: 'db:sales."Leads"',
      total: 3000,
      invalid: 0,
      duplicate: 0,
      pending: 3000,
    });
    const { rows } = await p.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM run_items WHERE run_id = $1 AND cust_space_id = 'S2'`,
      [runId],
    );
    expect(Number(rows[0]!.n)).toBe(3000);
  });

  it('accounts for every row of a 5000-row table with mixed formats, invalid and duplicate rows', async () => {
    p = await startPipeline();
    const runId = await enqueue(p, {
      spec: { table: 'public.many_contacts', phoneColumn: 'phone' },
      space: 'S1',
    });
    expect(await runStatus(p.pool, runId)).toMatchObject({
      total: 5000,
      invalid: 100,
      duplicate: 900,
      skipped: 0,
      pending: 4000,
      state: 'ready',
    });
    const stored = await p.pool.query<{ n: string }>(
      `SELECT count(DISTINCT phone_number) AS n FROM run_items WHERE run_id = $1 AND phone_number ~ '^86138[0-9]{8}$'`,
      [runId],
    );
    expect(Number(stored.rows[0]!.n)).toBe(4000);
  });

  it('is a command of the built CLI: exit 2 for a hostile table name, the table intact; --query prints the run', async () => {
    p = await startPipeline();
    const env = pipelineEnv(p);
    const run = async (args: string[]) => {
      const cli = startCli(['enqueue-db', '--source-url', crm.url, ...args], env);
      const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
      return { code, stdout: cli.stdout(), stderr: cli.stderr() };
    };
    const hostile = await run([
      '--table',
      'contacts; DROP TABLE contacts',
      '--phone-column',
      'mobile',
      '--space',
      'S1',
    ]);
    expect(hostile.code).toBe(2);
    expect(hostile.stderr).toContain('relation "contacts; DROP TABLE contacts" does not exist');
    const survived = await crmPool.query<{ n: string }>('SELECT count(*) AS n FROM contacts');
    expect(Number(survived.rows[0]!.n)).toBe(300);
    const both = await run(['--query', 'SELECT 1', '--table', 'contacts']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--table cannot be used with --query');
    const query = await run([
      '--query',
      `SELECT mobile AS phone_number FROM contacts WHERE id <= 10`,
      '--space',
      'S1',
      '--json',
    ]);
    expect(query.code).toBe(0);
    expect(JSON.parse(query.stdout)).toMatchObject({ source: 'db:query', total: 10, pending: 10 });
  });

  it('reads only the rows --where keeps', async () => {
    p = await startPipeline();
    const runId = await enqueue(p, {
      spec: { table: 'contacts', phoneColumn: 'mobile', where: `region = 'north' AND id <= 100` },
      space: 'S1',
    });
    const s = await runStatus(p.pool, runId);
    expect(s).toMatchObject({ total: 50, invalid: 0, duplicate: 0, pending: 50 });
  });

  it('quotes a hostile table name as an identifier, fails with exit 2 and leaves no run; the table survives', async () => {
    p = await startPipeline();
    const hostile = 'contacts; DROP TABLE contacts';
    const err = await enqueue(p, { spec: { table: hostile, phoneColumn: 'mobile' }, space: 'S1' }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'DB_SOURCE', exitCode: 2 });
    expect((err as Error).message).toContain('"contacts; DROP TABLE contacts"');
    const hostileColumn = await enqueue(p, {
      spec: { table: 'contacts', phoneColumn: 'mobile"; DROP TABLE contacts; --' },
      space: 'S1',
    }).catch((e: unknown) => e);
    expect(hostileColumn).toMatchObject({ code: 'DB_SOURCE', exitCode: 2 });
    expect(quoteTableName('a.b')).toBe('"a"."b"');
    expect(() => quoteTableName('a.b.c')).toThrow(/not a table name/);
    const survived = await crmPool.query<{ n: string }>('SELECT count(*) AS n FROM contacts');
    expect(Number(survived.rows[0]!.n)).toBe(300);
    const runs = await p.pool.query('SELECT id FROM runs');
    expect(runs.rowCount).toBe(0);
  });

  it('runs --where and --query read-only: a write is refused and changes nothing', async () => {
    p = await startPipeline();
    const writing = await enqueue(p, {
      spec: { query: `SELECT mobile AS phone_number FROM contacts; DELETE FROM contacts` },
      space: 'S1',
    }).catch((e: unknown) => e);
    expect(writing).toMatchObject({ exitCode: 2 });
    const cte = await enqueue(p, {
      spec: {
        query: `WITH gone AS (DELETE FROM contacts RETURNING mobile) SELECT mobile AS phone_number FROM gone`,
      },
      space: 'S1',
    }).catch((e: unknown) => e);
    expect(cte).toMatchObject({ code: 'DB_SOURCE', exitCode: 2 });
    // What the read-only transaction itself refuses: a write hidden in a function call, in --where and --query.
    const viaWhere = await enqueue(p, {
      spec: { table: 'contacts', phoneColumn: 'mobile', where: `nextval('contacts_id_seq') > 0` },
      space: 'S1',
    }).catch((e: unknown) => e);
    expect(viaWhere).toMatchObject({ code: 'DB_SOURCE', exitCode: 2 });
    expect((viaWhere as Error).message).toMatch(/read-only transaction.*READ ONLY/);
    const viaQuery = await enqueue(p, {
      spec: { query: `SELECT mobile AS phone_number FROM contacts WHERE nextval('contacts_id_seq') > 0` },
      space: 'S1',
    }).catch((e: unknown) => e);
    expect((viaQuery as Error).message).toMatch(/SQLSTATE 25006/);
    const seq = await crmPool.query<{ last_value: string; is_called: boolean }>(
      'SELECT last_value, is_called FROM contacts_id_seq',
    );
    expect(Number(seq.rows[0]!.last_value)).toBe(300);
    const survived = await crmPool.query<{ n: string }>('SELECT count(*) AS n FROM contacts');
    expect(Number(survived.rows[0]!.n)).toBe(300);
  });

  it('takes a --query returning phone_number and cust_space_id, and names what a query lacks', async () => {
    p = await startPipeline();
    const runId = await enqueue(p, {
      spec: { query: `SELECT mobile AS phone_number, 'S9' AS cust_space_id FROM contacts WHERE id <= 20;` },
    });
    const s = await runStatus(p.pool, runId);
    expect(s).toMatchObject({ source: 'db:query', total: 20, pending: 20 });
    const spaces = await p.pool.query('SELECT DISTINCT cust_space_id FROM run_items WHERE run_id = $1', [
      runId,
    ]);
    expect(spaces.rows).toEqual([{ cust_space_id: 'S9' }]);

    const noPhone = await enqueue(p, { spec: { query: 'SELECT mobile FROM contacts' }, space: 'S1' }).catch(
      (e: unknown) => e,
    );
    expect(noPhone).toMatchObject({ code: 'DB_SOURCE', exitCode: 2 });
    expect((noPhone as Error).message).toContain('phone_number');
    const noSpace = await enqueue(p, {
      spec: { query: 'SELECT mobile AS phone_number FROM contacts' },
    }).catch((e: unknown) => e);
    expect((noSpace as Error).message).toContain('cust_space_id');
    expect((await runStatus(p.pool, runId)).run).toBe(runId);
    const runs = await p.pool.query('SELECT id FROM runs');
    expect(runs.rowCount).toBe(1);
  });

  it('streams through a cursor: breaking out of the loop ends the read-only transaction', async () => {
    const client = new pg.Client({ connectionString: crm.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const lines: number[] = [];
      for await (const row of readDbRows(
        client,
        { table: 'sales.Leads', phoneColumn: 'Phone No' },
        {
          batchSize: 100,
          spaceGiven: true,
        },
      )) {
        lines.push(row.line);
        if (lines.length === 250) break;
      }
      expect(lines).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
      const { rows } = await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
      expect(rows[0]!.transaction_read_only).toBe('off');
    } finally {
      await client.end();
    }
  });
});
