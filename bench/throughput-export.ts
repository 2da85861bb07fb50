/**
 * The export case of the throughput suite: `cams-enrich export --run ID --format csv` of a one-column run
 * (every row pending), run from outside as a user runs it, against a reference in the same run: a
 * process that only streams the same rows in line order out of PostgreSQL with `COPY … TO STDOUT`
 * (PostgreSQL's own CSV, no outcome, no profile join, no formula guard). Both write to a file in the
 * same directory and start a fresh Node.js process; they take turns, three times each, and the median
 * of each is kept.
 */
import { spawn } from 'node:child_process';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { packageRoot } from '../src/package-root.js';
import { importCsv } from '../src/runs/csv-import.js';
import type { Line } from './throughput-support.js';
import { benchDatabase, writeNumbersCsv } from './throughput-support.js';

const ROUNDS = 3;

interface Measured {
  seconds: number;
  /** The child's peak RSS (Linux's VmHWM, read while it runs), in MB; undefined where /proc is not there. */
  peakRssMb: number | undefined;
}

async function highWaterMb(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status === undefined ? undefined : /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return kb === undefined ? undefined : Math.round(Number(kb) / 1000);
}

/** Runs `node args…` with `env`, stdout to `out`; its elapsed time and peak RSS. Fails unless it exits 0. */
async function runNode(args: string[], env: NodeJS.ProcessEnv, out: string): Promise<Measured> {
  const started = performance.now();
  const file = await open(out, 'w');
  try {
    const child = spawn(process.execPath, args, {
      cwd: packageRoot(),
      env,
      stdio: ['ignore', file.fd, 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let peak: number | undefined;
    const sampler = setInterval(() => {
      if (child.pid !== undefined)
        void highWaterMb(child.pid).then((mb) => {
          if (mb !== undefined) peak = Math.max(peak ?? 0, mb);
        });
    }, 50);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', resolve);
    });
    clearInterval(sampler);
    if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr}`);
    return { seconds: (performance.now() - started) / 1000, peakRssMb: peak };
  } finally {
    await file.close();
  }
}

/** The reference: the run's rows in line order as PostgreSQL's own CSV, through COPY, from a fresh process. */
const COPY_SCRIPT = `
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
await pipeline(
  client.query(copyTo(\`COPY (SELECT line, cust_space_id, phone_number, state FROM cams_enrich.run_items
    WHERE run_id = \${Number(process.env.RUN)} ORDER BY line) TO STDOUT WITH (FORMAT csv, HEADER true)\`)),
  process.stdout,
);
await client.end();
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => n.toLocaleString('en-US');

export async function measureExport(dir: string, rows: number): Promise<Line[]> {
  const log = createLogger({ level: 'silent' });
  const input = join(dir, 'export-input.csv');
  await writeNumbersCsv(input, rows);
  const db = await benchDatabase(log);
  const pool = createPool(db.url, log, { max: 2 });
  try {
    const { runId } = await importCsv(pool, log, {
      file: input,
      queue: 'bench-export',
      space: 'bench',
      defaultCountry: 'CN',
      maxAgeMs: 0,
    });
    await pool.query('ANALYZE');
    const env = { ...process.env, DATABASE_URL: db.url, LOG_FORMAT: 'json', RUN: String(runId) };
    const cli = join(packageRoot(), 'dist', 'src', 'cli', 'bin.js');
    const exports: Measured[] = [];
    const copies: Measured[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const out = join(dir, 'export.csv');
      exports.push(await runNode([cli, 'export', '--run', String(runId), '--format', 'csv'], env, out));
      const lines = (await readFile(out, 'utf8')).split('\n').length - 2;
      if (lines !== rows) throw new Error(`the export wrote ${lines} rows, not ${rows}`);
      copies.push(await runNode(['--input-type=module', '-e', COPY_SCRIPT], env, join(dir, 'copy.csv')));
    }
    const exportSeconds = median(exports.map((m) => m.seconds));
    const copySeconds = median(copies.map((m) => m.seconds));
    const rss = exports.map((m) => m.peakRssMb).filter((mb) => mb !== undefined);
    const size = (await stat(join(dir, 'export.csv'))).size;
    return [
      {
        figure: `export --format csv of a ${fmt(rows)}-row one-column run, all pending (${Math.round(size / 1e6)} MB; peak RSS ${rss.length > 0 ? `${Math.max(...rss)} MB` : 'not measured'})`,
        value: `${exportSeconds.toFixed(2)} s (${fmt(Math.round(rows / exportSeconds))} rows/s)`,
        reference: `COPY of the same rows in line order from a fresh process: ${copySeconds.toFixed(2)} s (${fmt(Math.round(rows / copySeconds))} rows/s)`,
        ratio: `${(copySeconds / exportSeconds).toFixed(2)} of the COPY's rate`,
      },
    ];
  } finally {
    await pool.end();
    await db.drop();
  }
}
