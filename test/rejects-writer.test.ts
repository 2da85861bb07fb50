import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.js';
import { createRejectsWriter } from '../src/sources/rejects-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cams-enrich-rejects-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tempPath = (): string => join(dir, `${randomUUID()}.csv`);

describe('createRejectsWriter', () => {
  it('writes the header line,raw,reason even when nothing is rejected', async () => {
    const path = tempPath();
    const writer = createRejectsWriter(path);
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe('line,raw,reason\n');
    expect(writer.count).toBe(0);
  });

  it('writes one row per reject and counts them', async () => {
    const path = tempPath();
    const writer = createRejectsWriter(path);
    await writer.write({ line: 2, raw: '415 555 2671', reason: 'no country code and no --default-country' });
    await writer.write({ line: 9, raw: '', reason: 'empty' });
    expect(writer.count).toBe(2);
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe(
      'line,raw,reason\n2,415 555 2671,no country code and no --default-country\n9,,empty\n',
    );
  });

  it.each(['=', '+', '-', '@', '\t', '\r'])(
    'prefixes a cell beginning with %j with a single quote',
    async (c) => {
      const path = tempPath();
      const writer = createRejectsWriter(path);
      const raw = `${c}1+2 86 138`;
      await writer.write({ line: 3, raw, reason: 'contains invalid characters' });
      await writer.close();
      const records = parse(await readFile(path, 'utf8')) as string[][];
      expect(records[1]).toEqual(['3', `'${raw}`, 'contains invalid characters']);
    },
  );

  it('leaves other cells verbatim, quoting commas, quotes and line breaks', async () => {
    const path = tempPath();
    const writer = createRejectsWriter(path);
    const raws = ['13800001234', '1,234', 'say "hi"', 'two\nlines', "'already quoted", ' +86 leading space'];
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
    const writer = createRejectsWriter(path);
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
    const writer = createRejectsWriter(path);
    const rows = 50_000;
    for (let i = 0; i < rows; i++)
      await writer.write({ line: i + 2, raw: `bad number ${i}`, reason: 'contains letters' });
    await writer.close();
    const records = parse(await readFile(path, 'utf8')) as string[][];
    expect(records).toHaveLength(rows + 1);
    expect(records.at(-1)).toEqual([String(rows + 1), `bad number ${rows - 1}`, 'contains letters']);
    expect(writer.count).toBe(rows);
  });

  it('reports a file it cannot create as INPUT_FILE, at the latest on close', async () => {
    const path = join(dir, 'no-such-directory', 'rejects.csv');
    const writer = createRejectsWriter(path);
    let caught: unknown;
    try {
      await writer.write({ line: 2, raw: 'x', reason: 'contains letters' });
      await writer.close();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('INPUT_FILE');
    expect((caught as AppError).message).toBe(
      `cannot write rejects file ${path}: its directory does not exist`,
    );
    await expect(writer.close()).rejects.toMatchObject({ code: 'INPUT_FILE' });
  });
});
