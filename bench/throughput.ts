/**
 * `npm run bench -- throughput`: how fast the box is, each figure next to a reference measured in the same
 * run on the same machine (so the ratios compare across machines and loads):
 *
 * - `import` of a generated CSV (unique numbers, four formats) vs a raw `COPY` of the same file;
 * - CSV parsing alone, and parsing + normalisation, over the same file;
 * - one worker (limit and latency off) over a run of numbers vs the CAMS client alone against the same
 *   simulator at the same concurrency;
 * - a feeder batch and the lost jobs check with a big ledger of other runs vs an empty ledger;
 * - `export --format csv` of a one-column run, from outside, vs a COPY of the same rows in line order.
 *
 * Environment: BENCH_IMPORT_ROWS (default 100000; 500000 or 1000000 for the big figures),
 * BENCH_WORKER_NUMBERS (default 6000), BENCH_CONCURRENCY (default 64), BENCH_LEDGER_ROWS (rows of other
 * runs for the big-ledger case, default 1000000; 5000000 for the full figure), BENCH_EXPORT_ROWS (default
 * 300000), BENCH_THROUGHPUT_CASES (a comma-separated list of import, worker, ledger, export; default all), and DATABASE_URL /
 * REDIS_URL (databases `cams_bench_<random>` are created there and dropped).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { normalisePhone } from '../src/phone.js';
import { importCsv } from '../src/runs/csv-import.js';
import { readCsvRows } from '../src/sources/csv-source.js';
import type { Line } from './throughput-support.js';
import { benchDatabase, timed, writeNumbersCsv } from './throughput-support.js';
import { measureExport } from './throughput-export.js';
import { measureLedger } from './throughput-ledger.js';
import { measureWorker } from './throughput-worker.js';

const IMPORT_ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 100_000);
const WORKER_NUMBERS = Number(process.env.BENCH_WORKER_NUMBERS ?? 6000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const LEDGER_ROWS = Number(process.env.BENCH_LEDGER_ROWS ?? 1_000_000);
const EXPORT_ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? 300_000);

const perSecond = (n: number, seconds: number) => Math.round(n / seconds);
const fmt = (n: number) => n.toLocaleString('en-US');

async function measureImport(dir: string): Promise<Line[]> {
  const log = createLogger({ level: 'silent' });
  const file = join(dir, 'import.csv');
  await writeNumbersCsv(file, IMPORT_ROWS);
  const db = await benchDatabase(log);
  const pool = createPool(db.url, log, { max: 4 });
  try {
    const raw = await timed(async () => {
      const client = await pool.connect();
      try {
        await client.query('CREATE TEMPORARY TABLE raw_copy (phone text)');
        await pipeline(
          createReadStream(file),
          client.query(copyFrom('COPY raw_copy FROM STDIN WITH (FORMAT csv, HEADER true)')),
        );
      } finally {
        client.release();
      }
    });
    const parse = await timed(async () => {
      for await (const row of readCsvRows(file)) void row;
    });
    const normalise = await timed(async () => {
      for await (const row of readCsvRows(file)) {
        if (!normalisePhone(row.phone, 'CN').ok) throw new Error(`bench file has an invalid row ${row.line}`);
      }
    });
    const imported = await timed(() =>
      importCsv(pool, log, {
        file,
        queue: 'bench-import',
        space: 'bench',
        defaultCountry: 'CN',
        maxAgeMs: 0,
      }),
    );
    const run = await pool.query<{ total: string; pending: string }>(
      'SELECT total, pending FROM runs WHERE id = $1',
      [imported.value.runId],
    );
    if (Number(run.rows[0]?.pending) !== IMPORT_ROWS || Number(run.rows[0]?.total) !== IMPORT_ROWS) {
      throw new Error(`import accounting is off: ${JSON.stringify(run.rows[0])}`);
    }
    const importRate = perSecond(IMPORT_ROWS, imported.seconds);
    const rawRate = perSecond(IMPORT_ROWS, raw.seconds);
    return [
      {
        figure: `import of ${fmt(IMPORT_ROWS)} unique numbers, four formats (peak RSS of the process ${imported.peakRssMb} MB)`,
        value: `${imported.seconds.toFixed(2)} s (${fmt(importRate)} rows/s)`,
        reference: `raw COPY of the file: ${raw.seconds.toFixed(2)} s`,
        ratio: `${(imported.seconds / raw.seconds).toFixed(1)}× the raw COPY`,
      },
      {
        figure: 'CSV parsing alone',
        value: `${parse.seconds.toFixed(2)} s (${fmt(perSecond(IMPORT_ROWS, parse.seconds))} rows/s)`,
        reference: `raw COPY: ${fmt(rawRate)} rows/s`,
        ratio: `${(parse.seconds / imported.seconds).toFixed(2)} of the import's time`,
      },
      {
        figure: 'CSV parsing + normalisation',
        value: `${normalise.seconds.toFixed(2)} s (${fmt(perSecond(IMPORT_ROWS, normalise.seconds))} rows/s)`,
        reference: `parsing alone: ${parse.seconds.toFixed(2)} s`,
        ratio: `${(normalise.seconds / imported.seconds).toFixed(2)} of the import's time`,
      },
    ];
  } finally {
    await pool.end();
    await db.drop();
  }
}

async function main(): Promise<void> {
  loadConfig(); // fail early on a bad environment
  const only = process.env.BENCH_THROUGHPUT_CASES?.split(',');
  const want = (name: string) => !only || only.includes(name);
  const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-bench-'));
  const lines: Line[] = [];
  try {
    console.log(
      `throughput: import ${fmt(IMPORT_ROWS)} rows; worker ${fmt(WORKER_NUMBERS)} numbers at concurrency ${CONCURRENCY}; ledger of ${fmt(LEDGER_ROWS)} other rows`,
    );
    if (want('import')) lines.push(...(await measureImport(dir)));
    if (want('worker')) lines.push(...(await measureWorker(WORKER_NUMBERS, CONCURRENCY)));
    if (want('ledger')) lines.push(...(await measureLedger(LEDGER_ROWS)));
    if (want('export')) lines.push(...(await measureExport(dir, EXPORT_ROWS)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log('');
  console.log('| figure | measured | reference in the same run | ratio |');
  console.log('| --- | --- | --- | --- |');
  for (const l of lines) console.log(`| ${l.figure} | ${l.value} | ${l.reference} | ${l.ratio} |`);
}

export const run = main;
