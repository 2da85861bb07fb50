/**
 * A corpus of hostile CSV files, each imported by the built CLI against real PostgreSQL and Redis. Every
 * file ends either in exit 2 with `file:line: reason` (any run it started aborted, with every row read
 * before the bad line counted) or in exact per-row accounting; never exit 1, a crash, a lost row, a
 * rejects file that disagrees with the run, or an overwritten file.
 */
import { createHash } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import type { Pool } from '../src/db/pool.js';
import { createPool } from '../src/db/pool.js';
import { getRun } from '../src/db/runs.js';
import { createLogger } from '../src/log.js';
import { assertBuilt, startCli } from './helpers/processes.js';
import type { TestDatabase } from './helpers/services.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  redisUrl,
  testQueueName,
  testRedis,
} from './helpers/services.js';

/** Where the rejects file goes, relative to the input. */
type RejectsMode = 'beside' | 'input' | 'link' | 'foreign' | 'previous' | 'missing-dir' | 'directory';

interface Case {
  name: string;
  content: string | Buffer;
  /** Flags after the file. Default `--space S1`. */
  args?: string[];
  /** Default `beside`: a new `rejects.csv` next to the input. */
  rejects?: RejectsMode;
  /** `pipe`: the file's bytes on standard input; `file`: standard input redirected from the file. */
  stdin?: 'pipe' | 'file';
  /** A successful import: its data rows (blank lines are not rows) and, when given, invalid/duplicate counts. */
  rows?: number;
  invalid?: number;
  duplicate?: number;
  /** An import refused with exit 2: the message after `cams-enrich: `; `FILE` stands for the input's path. */
  refused?: string;
  /** Rows counted by the aborted run; absent when no run may exist. */
  rowsBefore?: number;
}

const log = createLogger({ level: 'silent' });
let db: TestDatabase;
let pool: Pool;
let root: string;
const queues: string[] = [];

beforeAll(async () => {
  assertBuilt();
  db = await createTestDatabase({ migrated: true });
  pool = createPool(db.url, log, { max: 4 });
  await migrate(pool, log);
  root = await mkdtemp(join(tmpdir(), 'cams-enrich-hostile-'));
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
  const redis = testRedis();
  try {
    for (const q of queues) await deleteQueueKeys(redis, q);
  } finally {
    redis.disconnect();
  }
});

/** `count` distinct valid Chinese mobile numbers, country code first. */
function numbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `86138${String(10_000_000 + (start + i) * 7919).slice(-8)}`);
}

const lines = (rows: string[], end = '\n') => rows.map((r) => r + end).join('');
const five = numbers(5) as [string, string, string, string, string];
const latin1 = (s: string) => Buffer.from(s, 'latin1');
const bytes = (...parts: (string | number[] | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const utf16le = (s: string) => Buffer.from(s, 'utf16le');
const utf16be = (s: string) => utf16le(s).swap16();
const noise = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 7) % 256));

const cases: Case[] = [
  { name: 'plain, LF', content: `phone\n${lines(five)}`, rows: 5, invalid: 0 },
  {
    name: 'CRLF line ends',
    content: `phone,name\r\n${lines(
      five.map((n) => `${n},a`),
      '\r\n',
    )}`,
    rows: 5,
  },
  {
    name: 'CR-only line ends',
    content: `phone,name\r${lines(
      five.map((n) => `${n},a`),
      '\r',
    )}`,
    rows: 5,
  },
  { name: 'UTF-8 BOM and CRLF', content: `\ufeffphone\r\n${lines(five, '\r\n')}`, rows: 5 },
  { name: 'no final line break', content: `phone\n${five.join('\n')}`, rows: 5 },
  { name: 'semicolon delimiter', content: `name;phone\n${lines(five.map((n) => `a,b;${n}`))}`, rows: 5 },
  { name: 'tab delimiter', content: `name\tphone\n${lines(five.map((n) => `a;b\t${n}`))}`, rows: 5 },
  {
    name: 'pipe delimiter given',
    content: `name|phone\n${lines(five.map((n) => `a|${n}`))}`,
    args: ['--space', 'S1', '--delimiter', '|'],
    rows: 5,
    invalid: 0,
  },
  {
    name: 'quoted header holding a delimiter',
    content: `"name;x",phone\n${lines(five.map((n) => `a,${n}`))}`,
    rows: 5,
    invalid: 0,
  },
  { name: 'header "Phone Number"', content: `id,Phone Number\n${lines(five.map((n) => `1,${n}`))}`, rows: 5 },
  { name: 'header " TEL "', content: `id, TEL \n${lines(five.map((n) => `1,${n}`))}`, rows: 5, invalid: 0 },
  { name: 'header "mobile_phone"', content: `mobile_phone\n${lines(five)}`, rows: 5, invalid: 0 },
  { name: 'header-only file', content: 'phone\n', rows: 0 },
  { name: 'header and blank lines only', content: 'phone\n\n\r\n\r\n', rows: 0 },
  {
    name: 'mixed line ends',
    content: `phone\r\n${five[0]}\n${five[1]}\r${five[2]}\r\n${five[3]}\n\r"x\ry"\n`,
    rows: 5,
    invalid: 1,
  },
  { name: 'empty file', content: '', refused: 'FILE:1: the file is empty' },
  { name: 'blank lines only', content: '\n\n\n', refused: 'FILE:1: the file is empty' },
  { name: 'no phone column', content: 'id,fax\n1,2\n', refused: 'FILE:1: no phone column' },
  {
    name: 'missing --space-column',
    content: `phone\n${lines(five)}`,
    args: ['--space-column', 'space'],
    refused: 'FILE:1: --space-column "space" is not a column',
  },
  {
    name: 'blank lines between rows',
    content: `phone\n\n${five[0]}\n\n\n${five[1]}\r\n\r\n${five[2]}\n`,
    rows: 3,
    invalid: 0,
  },
  {
    name: 'NUL byte in a phone cell',
    content: `phone\n${five[0]}\n86138\u000000001234\n${five[1]}\n`,
    rows: 3,
    invalid: 1,
  },
  { name: 'NUL byte in another cell', content: `phone,name\n${five[0]},a\u0000b\n`, rows: 1, invalid: 0 },
  {
    name: 'NUL byte in a space cell',
    content: `phone,space\n${five[0]},S\u00001\n${five[1]},S2\n`,
    args: ['--space-column', 'space'],
    rows: 2,
    invalid: 1,
  },
  {
    name: 'control characters in cells',
    content: `phone,name\n${lines(numbers(60).map((n) => `${n},ok`))}86138\u000100001234,\u001b[31m\n`,
    rows: 61,
    invalid: 1,
  },
  {
    name: 'three 300 KB phone cells',
    content: `phone\n${five[0]}\n${'9'.repeat(300_000)}\n${'x'.repeat(300_000)}\n"${'1,'.repeat(150_000)}"\n`,
    rows: 4,
    invalid: 3,
  },
  {
    name: 'a 300 KB cell in another column',
    content: `phone,note\n${five[0]},${'n'.repeat(300_000)}\n${five[1]},b\n`,
    rows: 2,
    invalid: 0,
  },
  {
    name: 'a line over 1 MiB',
    content: `phone,note\n${lines(numbers(3).map((n) => `${n},a`))}${five[3]},${'z'.repeat(1_100_000)}\n${five[4]},b\n`,
    refused: 'FILE:5: Max Record Size',
    rowsBefore: 3,
  },
  {
    name: 'unclosed quote after 1 500 rows',
    content: `phone\n${lines(numbers(1500))}"${five[0]}\n${lines(numbers(10, 2000))}`,
    refused: 'FILE:1502: Quote Not Closed.* \\(CSV_QUOTE_NOT_CLOSED\\)',
    rowsBefore: 1500,
  },
  {
    name: 'unclosed quote after invalid rows',
    content: `phone\n${lines(Array.from({ length: 1200 }, (_, i) => `bad${i}`))}${five[0]}\n"x\n`,
    refused: 'FILE:1203: Quote Not Closed',
    rowsBefore: 1201,
  },
  {
    name: 'stray quotes inside unquoted cells',
    content: `phone,note\n${five[0]},5" screen\n${five[1]},say "hi"\n12"34,x\n`,
    rows: 3,
    invalid: 1,
  },
  {
    name: 'formulas in cells',
    content: `phone,note\n=1+1,a\n+86 138 0000 1234,b\n@SUM(A1),c\n =cmd|' /C calc'!A0,d\n=HYPERLINK("http://x"),e\n-8613800001234,f\n`,
    rows: 6,
    invalid: 5,
  },
  {
    name: 'quoted cells with line breaks',
    content: `phone,note\n"${five[0]}","a\r\nb"\n"86138\n00001234",c\n${five[1]},"x\n\ny"\n"1\n2",d\n`,
    rows: 4,
    invalid: 1,
  },
  {
    name: 'short and long rows',
    content: `id,name,phone\n1\n2,a\n3,b,${five[0]},extra,more\n4,c,${five[1]}\n,,,\n`,
    rows: 5,
    invalid: 3,
  },
  {
    name: 'duplicates in many spellings',
    content: `phone\n${five[0]}\n+${five[0]}\n00${five[0]}\n+86 ${five[0].slice(2)}\n${five[1]}\n`,
    rows: 5,
    invalid: 0,
    duplicate: 3,
  },
  {
    name: 'letters, emoji, full-width digits, whitespace',
    content: `phone\nabc\n\u{1F4DE}8613800001234\n\uff18\uff16\uff11\uff13\uff18\n   \n\u00a0\n${five[0]}\n`,
    rows: 6,
    invalid: 5,
  },
  {
    name: 'empty and over-long space ids',
    content: `phone,space\n${five[0]},\n${five[1]},  \n${five[2]},${'S'.repeat(300)}\n${five[3]},S1\n`,
    args: ['--space-column', 'space'],
    rows: 4,
    invalid: 3,
  },
  {
    name: '10 000 rows, a third invalid',
    content: `phone\n${lines(numbers(10_000).map((n, i) => (i % 3 === 0 ? `x${n}` : n)))}`,
    rows: 10_000,
    invalid: 3334,
  },
  {
    name: 'Latin-1 on line 5',
    content: bytes(`phone,name\n${lines(numbers(3).map((n) => `${n},a`))}`, latin1(`${five[3]},Jos\xe9\n`)),
    refused: 'FILE:5: not UTF-8 \\(byte 0xE9\\): it looks like Latin-1 \\(ISO-8859-1\\) or Windows-1252',
    rowsBefore: 3,
  },
  {
    name: 'Windows-1252 smart quotes',
    content: bytes(`phone,name\n${five[0]},a\n`, latin1(`${five[1]},\x93quoted\x94\n`)),
    refused: 'FILE:3: not UTF-8 \\(byte 0x93\\): it looks like Windows-1252',
    rowsBefore: 1,
  },
  {
    name: 'Latin-1 header',
    content: latin1(`t\xe9l\xe9phone\n${five[0]}\n`),
    refused: 'FILE:1: not UTF-8 \\(byte 0xE9\\)',
  },
  {
    name: 'Latin-1 read with --encoding windows-1252',
    content: latin1(`t\xe9l\xe9phone;nom\n${lines(five.map((n) => `${n};Jos\xe9`))}`),
    args: ['--space', 'S1', '--encoding', 'windows-1252', '--phone-column', 't\u00e9l\u00e9phone'],
    rows: 5,
    invalid: 0,
  },
  {
    name: 'GBK text',
    content: bytes(
      `phone,name\n${five[0]},a\n${five[1]},`,
      [0xd5, 0xc5, 0xc8, 0xfd, 0xd6, 0xd0, 0xce, 0xc4],
      '\n',
    ),
    refused: 'FILE:3: not UTF-8 \\(byte 0xD5\\): it looks like a double-byte encoding such as GBK',
    rowsBefore: 1,
  },
  {
    name: 'GB18030 read with --encoding gb18030',
    content: bytes(`phone,name\n${five[0]},`, [0xd5, 0xc5, 0xc8, 0xfd], '\n'),
    args: ['--space', 'S1', '--encoding', 'gb18030'],
    rows: 1,
    invalid: 0,
  },
  {
    name: 'overlong UTF-8 sequence',
    content: bytes(`phone\n${five[0]}\n`, [0xc0, 0xaf], '\n'),
    refused: 'FILE:3: not UTF-8 \\(byte 0xC0\\)',
    rowsBefore: 1,
  },
  {
    name: 'UTF-8 encoded surrogate',
    content: bytes(`phone\n${five[0]}\n${five[1]}\n`, [0xed, 0xa0, 0x80], '\n'),
    refused: 'FILE:4: not UTF-8 \\(byte 0xED\\)',
    rowsBefore: 2,
  },
  {
    name: 'UTF-16LE with BOM',
    content: bytes([0xff, 0xfe], utf16le(`phone\r\n${lines(five, '\r\n')}`)),
    refused: 'FILE:1: not a CSV file: it looks like UTF-16 text \\(little-endian\\)',
  },
  {
    name: 'UTF-16BE with BOM',
    content: bytes([0xfe, 0xff], utf16be(`phone\n${lines(five)}`)),
    refused: 'FILE:1: not a CSV file: it looks like UTF-16 text \\(big-endian\\)',
  },
  {
    name: 'UTF-16LE without BOM',
    content: utf16le(`phone\n${lines(five)}`),
    refused: 'FILE:1: not a CSV file: it looks like UTF-16 text without a byte order mark',
  },
  {
    name: 'UTF-16LE read with --encoding utf-16le',
    content: bytes([0xff, 0xfe], utf16le(`phone\r\n${lines(five, '\r\n')}`)),
    args: ['--space', 'S1', '--encoding', 'utf-16le'],
    rows: 5,
    invalid: 0,
  },
  {
    name: 'UTF-32LE with BOM',
    content: bytes([0xff, 0xfe, 0, 0], Buffer.from([0x70, 0, 0, 0])),
    refused: 'FILE:1: not a CSV file: it looks like UTF-32 text',
  },
  {
    name: 'gzip archive',
    content: gzipSync(`phone\n${lines(five)}`),
    refused: 'FILE:1: not a CSV file: it looks like a gzip archive; decompress it first',
  },
  {
    name: 'xlsx workbook (zip)',
    content: bytes('PK', [3, 4, 20, 0, 6, 0], noise(200)),
    refused: 'FILE:1: not a CSV file: it looks like a zip archive',
  },
  {
    name: 'xls workbook',
    content: bytes([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], noise(200)),
    refused: 'FILE:1: not a CSV file: it looks like an Excel .xls workbook',
  },
  {
    name: 'PDF document',
    content: bytes('%PDF-1.7\n', noise(200)),
    refused: 'FILE:1: not a CSV file: it looks like a PDF document',
  },
  {
    name: 'binary noise',
    content: noise(4096),
    refused: 'FILE:1: not a CSV file: it looks like binary data',
  },
  {
    name: 'the input as its own rejects file',
    content: `phone\n${lines(five)}x\n`,
    rejects: 'input',
    refused: 'cannot write rejects file FILE: it is the input file',
  },
  {
    name: 'a hard link to the input as the rejects file',
    content: `phone\n${lines(five)}x\n`,
    rejects: 'link',
    refused: 'cannot write rejects file .*: it is the input file',
  },
  {
    name: 'standard input redirected from the rejects file',
    content: `phone\n${lines(five)}x\n`,
    rejects: 'input',
    stdin: 'file',
    refused: 'cannot write rejects file FILE: it is the input file',
  },
  {
    name: 'an existing file that is not a rejects file',
    content: `phone\n${lines(five)}x\n`,
    rejects: 'foreign',
    refused: 'cannot write rejects file .*: the file exists and is not a rejects file',
  },
  {
    name: 'a previous rejects file is replaced',
    content: `phone\n${lines(five)}x\n`,
    rejects: 'previous',
    rows: 6,
    invalid: 1,
  },
  {
    name: 'a rejects file in a missing directory',
    content: `phone\n${lines(five)}`,
    rejects: 'missing-dir',
    refused: 'cannot write rejects file .*: its directory does not exist',
  },
  {
    name: 'a directory as the rejects file',
    content: `phone\n${lines(five)}`,
    rejects: 'directory',
    refused: 'cannot write rejects file .*: it is a directory',
  },
  {
    name: 'standard input',
    content: `Phone Number;name\n${lines(five.map((n) => `${n};a`))}nope;b\n`,
    stdin: 'pipe',
    rows: 6,
    invalid: 1,
  },
  {
    name: 'standard input that is gzip',
    content: gzipSync(`phone\n${lines(five)}`),
    stdin: 'pipe',
    refused: 'stdin:1: not a CSV file: it looks like a gzip archive',
  },
  {
    name: 'a header of 5 000 columns',
    content: `${Array.from({ length: 5000 }, (_, i) => `c${i}`).join(',')},phone\n${'x,'.repeat(5000)}${five[0]}\n`,
    rows: 1,
    invalid: 0,
  },
  {
    name: 'an unknown --encoding',
    content: `phone\n${lines(five)}`,
    args: ['--space', 'S1', '--encoding', 'klingon'],
    refused: '--encoding "klingon" is not an encoding name',
  },
];

/** Runs one case through the built CLI and checks everything the corpus promises. */
async function check(c: Case, index: number): Promise<void> {
  const dir = join(root, `case-${index}`);
  await mkdir(dir);
  const file = join(dir, 'input.csv');
  const content = typeof c.content === 'string' ? Buffer.from(c.content) : c.content;
  await writeFile(file, content);
  const before = createHash('sha256').update(content).digest('hex');
  const foreign = 'precious,data\n1,2\n';
  let rejects = join(dir, 'rejects.csv');
  switch (c.rejects ?? 'beside') {
    case 'input':
      rejects = file;
      break;
    case 'link':
      rejects = join(dir, 'link.csv');
      await link(file, rejects);
      break;
    case 'foreign':
      await writeFile(rejects, foreign);
      break;
    case 'previous':
      await writeFile(rejects, 'line,raw,reason\n99,old,too short\n');
      break;
    case 'missing-dir':
      rejects = join(dir, 'missing', 'rejects.csv');
      break;
    case 'directory':
      rejects = dir;
      break;
    default:
  }
  const queue = testQueueName();
  queues.push(queue);
  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl(),
    CAMS_QUEUE: queue,
    LOG_LEVEL: 'error',
  };
  const input = c.stdin === undefined ? file : '-';
  const fd = c.stdin === 'file' ? openSync(file, 'r') : undefined;
  const cli = startCli(
    ['import', input, ...(c.args ?? ['--space', 'S1']), '--rejects', rejects],
    env,
    c.stdin === 'pipe' ? content : fd,
  );
  const { code, signal } = await cli.exited;
  if (fd !== undefined) closeSync(fd);
  const messages = cli
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('cams-enrich: '));
  const context = `${c.name}: exit ${code}${signal ? ` (${signal})` : ''}\n${cli.stderr().slice(-2000)}`;

  expect(signal, context).toBeNull();
  expect(cli.stderr(), context).not.toMatch(/unexpected|stack|at .*\.js:\d+/i);
  expect(
    createHash('sha256')
      .update(await readFile(file))
      .digest('hex'),
    `${c.name}: input changed`,
  ).toBe(before);
  expect(
    (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
    `${c.name}: temporary file left`,
  ).toEqual([]);
  if (c.rejects === 'foreign') expect(await readFile(rejects, 'utf8')).toBe(foreign);

  const ids = await pool.query<{ id: string }>('SELECT id FROM runs WHERE queue = $1', [queue]);
  const runs = await Promise.all(ids.rows.map(async (r) => (await getRun(pool, Number(r.id)))!));
  const run = runs[0];
  if (run !== undefined) {
    expect(run.total, `${c.name}: accounting`).toBe(
      run.invalid + run.duplicate + run.skipped + run.enriched + run.failed + run.pending,
    );
    const stored = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM run_rejects WHERE run_id = $1',
      [run.id],
    );
    expect(Number(stored.rows[0]!.n), `${c.name}: run_rejects`).toBe(run.invalid);
    const written = parse(await readFile(rejects, 'utf8'), { relax_column_count: true }) as string[][];
    expect(written[0], `${c.name}: rejects header`).toEqual(['line', 'raw', 'reason']);
    expect(written.length - 1, `${c.name}: rejects file rows`).toBe(run.invalid);
  }

  if (c.refused !== undefined) {
    expect(code, context).toBe(2);
    const pattern = c.refused.replace(/FILE/g, input === '-' && c.stdin === 'pipe' ? 'stdin' : escape(file));
    expect(messages.at(-1), context).toMatch(new RegExp(`^cams-enrich: ${pattern}`));
    if (c.rowsBefore === undefined) {
      expect(runs, `${c.name}: a run was left behind`).toEqual([]);
    } else {
      expect(runs, context).toHaveLength(1);
      expect(run).toMatchObject({ state: 'aborted', total: c.rowsBefore, pending: 0 });
    }
    return;
  }
  expect(code, context).toBe(0);
  expect(runs, context).toHaveLength(1);
  expect(run!.state, context).toBe('ready');
  expect(run!.total, `${c.name}: total`).toBe(c.rows);
  if (c.invalid !== undefined) expect(run!.invalid, `${c.name}: invalid`).toBe(c.invalid);
  if (c.duplicate !== undefined) expect(run!.duplicate, `${c.name}: duplicate`).toBe(c.duplicate);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('hostile CSV files through the built CLI', () => {
  it('has more than 50 files in the corpus', () => {
    expect(cases.length).toBeGreaterThan(50);
  });

  describe.concurrent('each', () => {
    it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
      await check(c, i);
    });
  });
});
