/**
 * A CRM database often has tables of its own named like the ledger's. With the ledger in its own
 * schema, migrate, import and a worker run leave them alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Pool } from '../src/db/pool.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';

const OWN_TABLES = ['runs', 'run_items', 'run_rejects', 'queue_alerts', 'number_failures'];

/** The CRM's own tables, each with a row the ledger must never touch. */
async function createOwnTables(pool: Pool): Promise<void> {
  for (const table of OWN_TABLES) {
    await pool.query(
      `CREATE TABLE public.${table} (id serial PRIMARY KEY, note text NOT NULL, total integer)`,
    );
    await pool.query(`INSERT INTO public.${table} (note, total) VALUES ('the CRM''s own ${table}', 42)`);
  }
}

async function ownRows(pool: Pool): Promise<Record<string, unknown[]>> {
  const rows: Record<string, unknown[]> = {};
  for (const table of OWN_TABLES) {
    rows[table] = (await pool.query(`SELECT * FROM public.${table} ORDER BY id`)).rows;
  }
  return rows;
}

let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

describe('a database with tables of its own named like the ledger', () => {
  it('migrates, imports and enriches beside them without touching them', async () => {
    p = await startPipeline({ beforeMigrate: createOwnTables });
    const before = await ownRows(p.pool);
    expect(before.runs).toEqual([{ id: 1, note: "the CRM's own runs", total: 42 }]);

    const file = await p.csv(
      'contacts.csv',
      'phone\n8613800000001\n8613800000002\nnot-a-number\n8613800000001\n',
    );
    const runId = await p.importFile(file);
    p.startWorkers(1);
    const status = await p.waitFinished(runId);
    expect(status).toMatchObject({ total: 4, enriched: 2, invalid: 1, duplicate: 1, pending: 0 });

    expect(await ownRows(p.pool)).toEqual(before);
    const ledger = await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM cams_enrich.run_items');
    expect(ledger.rows[0]?.n).toBe('2');
    const rejects = await p.pool.query('SELECT line, raw FROM cams_enrich.run_rejects');
    expect(rejects.rows).toEqual([{ line: '4', raw: 'not-a-number' }]);
    const stored = await p.pool.query('SELECT phone_number FROM public.business_profiles ORDER BY 1');
    expect(stored.rows).toEqual([{ phone_number: '8613800000001' }, { phone_number: '8613800000002' }]);
  });
});
