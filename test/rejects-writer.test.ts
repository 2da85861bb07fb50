import { randomUUID } from 'node:crypto';
import { link, lstat, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { checkRejectsPath, openRejectsWriter } from '../src/sources/rejects-writer.js';
import { assertBuilt, killAll, startCli } from './helpers/processes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cams-enrich-rejects-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tempPath = (): string => join(dir, `${randomUUID()}.csv`);

describe('openRejectsWriter', () => {
  it('writes the header line,raw,reason even when nothing is rejected', async () => {
    const path = tempPath();
    const writer = await openRejectsWriter(path);
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe('line,raw,reason\n');
    expect(writer.count).toBe(0);
  });

  it('writes one row per reject and counts them', async () => {
    const path = tempPath();
    const writer = await openRejectsWriter(path);
    await writer.write({ line: 2, raw: '415 555 2671', reason: 'no country code and no --default-country' });
    await writer.write({ line: 9, raw: '', reason: 'empty' });
    expect(writer.count).toBe(2);
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe(
      'line,raw,reason\n2,415 555 2671,no country code and no --default-country\n9,,empty\n',
    );
  });

  it.each(['=', '+', '-', '@', '\t', '\r', ' =', '  +', ' \t-', '\u00a0@'])(
    'prefixes a cell beginning with %j with a single quote',
    async (c) => {
      const path = tempPath();
      const writer = await openRejectsWriter(path);
      const raw = `${c}1+2 86 138`;
      await writer.write({ line: 3, raw, reason: 'contains invalid characters' });
      await writer.close();
      const records = parse(await readFile(path, 'utf8')) as string[][];
      expect(records[1]).toEqual(['3', `'${raw}`, 'contains invalid characters']);
    },
  );

  it('leaves other cells verbatim, quoting commas, quotes and line breaks', async () => {
    const path = tempPath();
    const writer = await openRejectsWriter(path);
    const raws = ['13800001234', '1,234', 'say "hi"', 'two\nlines', "'already quoted", ' 86 leading space'];
    for (const [i, raw] of raws.entries()) await writer.write({ line: i + 2, raw, reason: 'too short' });
    await writer.close();
    const text = await readFile(path, 'utf8');
    expect(text).toContain('\n3,"1,234",too short\n');
    expect(text).toContain('\n4,"say ""hi""",too short\n');
    const records = parse(text) as string[][];
    expect(records.slice(1).map((r) => r[1])).toEqual(raws);
  });

  it('closes once, however often close is called', async () => {
    const path = tempPath();
    const writer = await openRejectsWriter(path);
    await writer.write({ line: 2, raw: 'x', reason: 'contains letters' });
    const first = writer.close();
    expect(writer.close()).toBe(first);
    await first;
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe('line,raw,reason\n2,x,contains letters\n');
    await expect(writer.write({ line: 3, raw: 'y', reason: 'contains letters' })).rejects.toThrow(/closed/);
  });

  it('writes many rows under backpressure without losing any', async () => {
    const path = tempPath();
    const writer = await openRejectsWriter(path);
    const rows = 50_000;
    for (let i = 0; i < rows; i++)
      await writer.write({ line: i + 2, raw: `bad number ${i}`, reason: 'contains letters' });
    await writer.close();
    const records = parse(await readFile(path, 'utf8')) as string[][];
    expect(records).toHaveLength(rows + 1);
    expect(records.at(-1)).toEqual([String(rows + 1), `bad number ${rows - 1}`, 'contains letters']);
    expect(writer.count).toBe(rows);
  });

  it('refuses a path whose directory does not exist, when opening', async () => {
    const path = join(dir, 'no-such-directory', 'rejects.csv');
    await expect(openRejectsWriter(path)).rejects.toMatchObject({
      code: 'OUTPUT_FILE',
      exitCode: 2,
      message: `cannot write rejects file ${path}: its directory does not exist`,
    });
  });

  it('refuses the input file, under its own name, a hard link or a symbolic link, and leaves it intact', async () => {
    const input = tempPath();
    await writeFile(input, 'phone\n8613800001234\n');
    const hard = tempPath();
    await link(input, hard);
    const soft = tempPath();
    await symlink(input, soft);
    for (const path of [input, hard]) {
      await expect(openRejectsWriter(path, { input })).rejects.toMatchObject({
        code: 'OUTPUT_FILE',
        message: expect.stringMatching(/it is the input file/) as unknown,
      });
    }
    await expect(openRejectsWriter(soft, { input })).rejects.toMatchObject({
      code: 'OUTPUT_FILE',
      message: `cannot write rejects file ${soft}: it is a symbolic link; name the file itself`,
    });
    expect(await readFile(input, 'utf8')).toBe('phone\n8613800001234\n');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses an existing file that is not a rejects file, and a directory', async () => {
    const other = tempPath();
    await writeFile(other, 'precious,data\n1,2\n');
    await expect(checkRejectsPath(other)).rejects.toThrow(/exists and is not a rejects file/);
    expect(await readFile(other, 'utf8')).toBe('precious,data\n1,2\n');
    await expect(checkRejectsPath(dir)).rejects.toThrow(/it is a directory/);
  });

  it('refuses a symbolic link (even to a previous rejects file) and what is not a regular file, and leaves them as they were', async () => {
    const target = tempPath();
    await writeFile(target, 'line,raw,reason\n2,x,contains letters\n');
    const soft = tempPath();
    await symlink(target, soft);
    const dangling = tempPath();
    await symlink(join(dir, 'nowhere.csv'), dangling);
    for (const path of [soft, dangling, '/dev/stdout']) {
      await expect(openRejectsWriter(path)).rejects.toMatchObject({
        code: 'OUTPUT_FILE',
        exitCode: 2,
        message: `cannot write rejects file ${path}: it is a symbolic link; name the file itself`,
      });
    }
    await expect(openRejectsWriter('/dev/null')).rejects.toMatchObject({
      message: 'cannot write rejects file /dev/null: it is not a regular file',
    });
    expect((await lstat(soft)).isSymbolicLink()).toBe(true);
    expect((await lstat(dangling)).isSymbolicLink()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('line,raw,reason\n2,x,contains letters\n');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces an empty file or a previous rejects file', async () => {
    for (const before of ['', 'line,raw,reason\n2,x,contains letters\n', 'line,raw,reason\r\n']) {
      const path = tempPath();
      await writeFile(path, before);
      const writer = await openRejectsWriter(path);
      await writer.write({ line: 5, raw: 'y', reason: 'contains letters' });
      await writer.close();
      expect(await readFile(path, 'utf8')).toBe('line,raw,reason\n5,y,contains letters\n');
    }
  });

  it('writes beside the destination and renames at close; a discarded writer leaves the destination as it was', async () => {
    const path = tempPath();
    await writeFile(path, 'line,raw,reason\n2,old,too short\n');
    const writer = await openRejectsWriter(path);
    await writer.write({ line: 3, raw: 'new', reason: 'too short' });
    expect(await readFile(path, 'utf8')).toBe('line,raw,reason\n2,old,too short\n');
    await writer.discard();
    expect(await readFile(path, 'utf8')).toBe('line,raw,reason\n2,old,too short\n');
    const kept = await openRejectsWriter(path);
    await kept.write({ line: 3, raw: 'new', reason: 'too short' });
    await kept.close();
    expect(await readFile(path, 'utf8')).toBe('line,raw,reason\n3,new,too short\n');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('import --rejects', () => {
  it('exits 2 for a symbolic link before any service is used or any run created, the link intact', async () => {
    assertBuilt();
    const input = tempPath();
    await writeFile(input, 'phone\n8613800001234\nnot a number\n');
    const target = tempPath();
    await writeFile(target, 'line,raw,reason\n');
    const soft = tempPath();
    await symlink(target, soft);
    // No database or Redis answers at these ports: the refusal must come first.
    const env = {
      ...process.env,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unused',
      REDIS_URL: 'redis://127.0.0.1:1',
      LOG_LEVEL: 'silent',
    };
    try {
      for (const rejects of [soft, '/dev/stdout']) {
        const cli = startCli(['import', input, '--space', 'S1', '--rejects', rejects], env);
        const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
        expect(code).toBe(2);
        expect(cli.stderr()).toContain(
          `cannot write rejects file ${rejects}: it is a symbolic link; name the file itself`,
        );
      }
      expect((await lstat(soft)).isSymbolicLink()).toBe(true);
      expect(await readFile(target, 'utf8')).toBe('line,raw,reason\n');
    } finally {
      await killAll();
    }
  }, 60_000);
});
