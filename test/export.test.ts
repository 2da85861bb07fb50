import { symlink, writeFile, readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { pruneRuns } from '../src/db/prune.js';
import { importFromDatabase } from '../src/runs/db-import.js';
import type { ExportOptions } from '../src/runs/export-run.js';
import { prepareExport } from '../src/runs/export-run.js';
import { profileFor } from '../src/simulator/profiles.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pipelineEnv, startCli } from './helpers/processes.js';

let p: Pipeline | undefined;
afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
});

/** The export of a run as text, in-process. */
async function exported(pipeline: Pipeline, options: ExportOptions): Promise<string> {
  const prepared = await prepareExport(pipeline.pool, options);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await prepared.write(out);
  return Buffer.concat(chunks).toString('utf8');
}

function records(csv: string): Record<string, string>[] {
  return parse(csv, { columns: true }) as Record<string, string>[];
}

const trimmed = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/** The profile columns as an export writes them for a number the simulator served. */
function servedProfile(phone: string) {
  const data = profileFor(phone) as unknown as Record<string, unknown>;
  return {
    vertical: trimmed(data['Vertical']),
    description: trimmed(data['Description']),
    email: trimmed(data['Email']),
    address: trimmed(data['Address']),
    websites: (data['Websites'] as string[]).map((w) => w.trim()).join(' '),
    about: trimmed(data['About']),
    profile_picture_url: trimmed(data['ProfilePictureUrl']),
  };
}

const FRESH = '8613800000011';
const REFUSED = '8613999999999';

describe('export', () => {
  it('writes one row per input row of a CSV run, in order, with its outcome and the served profile', async () => {
    p = await startPipeline({ rate: 50 });
    p.sim.setFaults([
      { match: `^${REFUSED}$`, answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' } },
    ]);
    // An earlier run fetches FRESH, so the run below skips it.
    const first = await p.importFile(await p.csv('first.csv', `phone\n+${FRESH}\n`));
    p.startWorkers(2);
    await p.waitFinished(first);

    const input = [
      'name,phone',
      'shop a,+86 138 0000 0001', // line 2: enriched
      '=HYPERLINK("x"),8613800000002', // line 3: enriched, a formula in the input's own cell
      'national,138 0000 0003', // line 4: read with --default-country CN
      'bad,n/a', // line 5: invalid
      'again,0086 138 0000 0001', // line 6: duplicate of line 2
      'refused,+86 139 9999 9999', // line 7: CAMS refuses it
      'fresh,+86 138 0000 0011', // line 8: fresh from the earlier run
      '',
      'short,12345', // line 10: invalid (after an empty line)
      'again refused,8613999999999', // line 11: duplicate of line 7
    ].join('\n');
    const file = await p.csv('mixed.csv', input + '\n');
    const runId = await p.importFile(file, { defaultCountry: 'CN' });
    const s = await p.waitFinished(runId);
    expect(s).toMatchObject({ total: 9, invalid: 2, duplicate: 2, skipped: 1, enriched: 3, failed: 1 });

    const rows = records(await exported(p, { runId, inputFile: file }));
    expect(rows.map((r) => [r['line'], r['name'], r['outcome']])).toEqual([
      ['2', 'shop a', 'enriched'],
      ['3', `'=HYPERLINK("x")`, 'enriched'],
      ['4', 'national', 'enriched'],
      ['5', 'bad', 'invalid'],
      ['6', 'again', 'duplicate'],
      ['7', 'refused', 'failed'],
      ['8', 'fresh', 'skipped'],
      ['10', 'short', 'invalid'],
      ['11', 'again refused', 'duplicate'],
    ]);
    const byLine = new Map(rows.map((r) => [r['line'], r]));
    // The input's own cells come back as written (the phone cell too), formula-guarded.
    expect(byLine.get('4')).toMatchObject({ phone: '138 0000 0003', phone_number: '8613800000003' });
    expect(byLine.get('6')!['phone']).toBe('0086 138 0000 0001');
    for (const [line, phone] of [
      ['2', '8613800000001'],
      ['3', '8613800000002'],
      ['4', '8613800000003'],
      ['6', '8613800000001'],
      ['8', FRESH],
    ] as const) {
      const row = byLine.get(line)!;
      expect(row).toMatchObject({ phone_number: phone, cust_space_id: 'S1', ...servedProfile(phone) });
      expect(row['fetched_at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(byLine.get('6')).toMatchObject({ duplicate_of: '2', number_outcome: 'enriched' });
    expect(byLine.get('7')).toMatchObject({
      phone_number: REFUSED,
      error_code: 'Unknown.ResourceOwnerId',
      vertical: '',
      fetched_at: '',
    });
    expect(byLine.get('11')).toMatchObject({
      duplicate_of: '7',
      number_outcome: 'failed',
      error_code: 'Unknown.ResourceOwnerId',
    });
    expect(byLine.get('5')).toMatchObject({ phone_number: '', reason: expect.stringMatching(/./) });

    // Without --input: the same rows, our columns only; JSON Lines carries the same in typed fields.
    const plain = records(await exported(p, { runId }));
    expect(plain.map((r) => r['outcome'])).toEqual(rows.map((r) => r['outcome']));
    expect(Object.keys(plain[0]!)[0]).toBe('line');
    const jsonl = (await exported(p, { runId, format: 'jsonl', columns: ['line', 'outcome', 'websites'] }))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonl[0]).toEqual({
      line: 2,
      outcome: 'enriched',
      websites: (profileFor('8613800000001').Websites as string[]).map((w) => w.trim()),
    });
    expect(jsonl.map((r) => r['line'])).toEqual(rows.map((r) => Number(r['line'])));

    // A file that is not the run's input is refused.
    const other = await p.csv('other.csv', input.replace('shop a', 'shop b') + '\n');
    await expect(prepareExport(p.pool, { runId, inputFile: other })).rejects.toMatchObject({
      code: 'INPUT_FILE',
    });
  });

  it('exports a database run, the query row number as the line, pending rows while it runs', async () => {
    p = await startPipeline();
    const { runId } = await importFromDatabase(p.pool, p.log, {
      queue: p.queueName,
      maxAgeMs: 0,
      space: 'S2',
      spec: {
        query: `SELECT * FROM (VALUES (1, '+86 138 0000 0021'), (2, 'nope'), (3, '8613800000021'), (4, '8613800000022')) v(n, phone_number) ORDER BY n`,
      },
      sourceUrl: p.db.url,
    });
    const rows = records(await exported(p, { runId }));
    expect(rows.map((r) => [r['line'], r['phone_number'], r['outcome'], r['duplicate_of']])).toEqual([
      ['1', '8613800000021', 'pending', ''],
      ['2', '', 'invalid', ''],
      ['3', '8613800000021', 'duplicate', '1'],
      ['4', '8613800000022', 'pending', ''],
    ]);
    await expect(prepareExport(p.pool, { runId, inputFile: __filename })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });

  it('guards and quotes CSV cells the same way whether PostgreSQL encodes them or the export does', async () => {
    p = await startPipeline();
    // Each value with the cell it must become: a formula guarded (also after JavaScript's white space,
    // spelt out for PostgreSQL), white space that is not JavaScript's left alone, quotes where CSV needs.
    const cases: [about: string, cell: string][] = [
      ['=1+2', "'=1+2"],
      ['@SUM(A1)', "'@SUM(A1)"],
      ['\tx', "'\tx"],
      ['\r=x', `"'\r=x"`],
      [' \u00a0-1', "' \u00a0-1"],
      ['\u3000+1', "'\u3000+1"],
      ['\ufeff\u2028\v\f=x', "'\ufeff\u2028\v\f=x"],
      ['\u200b=x', '\u200b=x'],
      ['\u0085=x', '\u0085=x'],
      ['x=1', 'x=1'],
      ['a,"b"\nc', '"a,""b""\nc"'],
      ['', ''],
      ['\\.', '\\.'],
    ];
    const phones = cases.map((_, i) => `86138000001${String(i).padStart(2, '0')}`);
    const runId = await p.importFile(await p.csv('guard.csv', `phone\n${phones.join('\n')}\n`));
    await p.pool.query(`UPDATE run_items SET state = 'enriched' WHERE run_id = $1`, [runId]);
    await p.pool.query(
      `INSERT INTO business_profiles (cust_space_id, phone_number, about, websites)
       SELECT 'S1', phone, about, ARRAY['-w', NULL, 'v'] FROM unnest($1::text[], $2::text[]) AS c (phone, about)`,
      [phones, cases.map(([about]) => about)],
    );
    const lines = cases.map(([, cell], i) => `${i + 2},${cell},'-w  v\n`);
    // Several columns: PostgreSQL's COPY encodes the rows.
    expect(await exported(p, { runId, columns: ['line', 'about', 'websites'] })).toBe(
      `line,about,websites\n${lines.join('')}`,
    );
    // One column (COPY would quote a lone \.): the export encodes them.
    expect(await exported(p, { runId, columns: ['about'] })).toBe(
      `about\n${cases.map(([, cell]) => `${cell}\n`).join('')}`,
    );
  });

  it('refuses a symlink, the run input and a pruned run with exit 2, and writes a file whole', async () => {
    assertBuilt();
    p = await startPipeline();
    const file = await p.csv('in.csv', 'phone\n8613800000031\n8613800000032\n');
    const runId = await p.importFile(file);
    const env = pipelineEnv(p);
    const run = async (...args: string[]) => {
      const cli = startCli(['export', '--run', String(runId), ...args], env);
      const { code } = await cli.exited;
      return { code, stderr: cli.stderr(), stdout: cli.stdout() };
    };

    const target = `${p.dir}/target.csv`;
    await writeFile(target, 'keep\n');
    await symlink(target, `${p.dir}/link.csv`);
    const viaLink = await run('--output', `${p.dir}/link.csv`);
    expect(viaLink.code).toBe(2);
    expect(viaLink.stderr).toMatch(/symbolic link/);
    expect(await readFile(target, 'utf8')).toBe('keep\n');

    const ownInput = await run('--output', file);
    expect(ownInput.code).toBe(2);
    expect(ownInput.stderr).toMatch(/input of run/);
    expect(await readFile(file, 'utf8')).toBe('phone\n8613800000031\n8613800000032\n');

    const written = await run('--output', target, '--columns', 'line,phone_number,outcome');
    expect(written.code).toBe(0);
    expect(await readFile(target, 'utf8')).toBe(
      'line,phone_number,outcome\n2,8613800000031,pending\n3,8613800000032,pending\n',
    );

    // Finished (nothing pending) and pruned: its rows are gone, so it cannot be told back.
    await p.pool.query(
      `UPDATE run_items SET state = 'failed', error_code = 'X', error_message = 'x' WHERE run_id = $1`,
      [runId],
    );
    await p.pool.query(
      `UPDATE runs SET failed = pending, pending = 0, state = 'ready', finished_at = now() - interval '1 day' WHERE id = $1`,
      [runId],
    );
    expect((await pruneRuns(p.pool, { olderThanMs: 0 })).runs).toBe(1);
    const pruned = await run();
    expect(pruned.code).toBe(2);
    expect(pruned.stderr).toMatch(/pruned/);
  });
});
