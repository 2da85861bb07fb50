/** Helpers of the throughput suite: a database of its own, a generated CSV, timing and peak memory. */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import type { Logger } from '../src/log.js';

/** One row of the throughput table: a figure, its value, the reference measured in the same run and their ratio. */
export interface Line {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
}

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A migrated database `cams_bench_<random>`, dropped by `drop()`. */
export async function benchDatabase(log: Logger): Promise<BenchDatabase> {
  const config = loadConfig();
  const name = `cams_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: config.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(config.databaseUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), log, { max: 1 });
  await migrate(pool, log);
  await pool.end();
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: config.databaseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Unique Chinese mobile numbers in four formats, one per row, in a `phone` column. */
export async function writeNumbersCsv(file: string, rows: number, offset = 0): Promise<void> {
  const out = createWriteStream(file);
  out.write('phone\n');
  const prefixes = ['138', '139', '150', '186'];
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const n = offset + i;
    const prefix = prefixes[n % 4]!;
    const d = String(10_000_000 + (n >> 2)).slice(-8);
    switch (n % 4) {
      case 0:
        chunk += `+86 ${prefix} ${d.slice(0, 4)} ${d.slice(4)}\n`;
        break;
      case 1:
        chunk += `86${prefix}${d}\n`;
        break;
      case 2:
        chunk += `${prefix}-${d.slice(0, 4)}-${d.slice(4)}\n`;
        break;
      default:
        chunk += `0086${prefix}${d}\n`;
    }
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

export interface Timed<T> {
  value: T;
  seconds: number;
  /** Largest RSS sampled while it ran, in MB. */
  peakRssMb: number;
}

/** Runs `fn`, timing it and sampling the process's RSS every 100 ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 100);
  const started = performance.now();
  try {
    const value = await fn();
    const seconds = (performance.now() - started) / 1000;
    return { value, seconds, peakRssMb: Math.round(Math.max(peak, process.memoryUsage.rss()) / 1e6) };
  } finally {
    clearInterval(sampler);
  }
}
