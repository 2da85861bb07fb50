import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.js';
import { detectDelimiter, readCsvRows } from '../src/sources/csv-source.js';
import type { CsvRow, CsvSourceOptions } from '../src/sources/csv-source.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cams-enrich-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function csvFile(content: string | Buffer): Promise<string> {
  const file = join(dir, `${randomUUID()}.csv`);
  await writeFile(file, content);
  return file;
}

async function readAll(file: string, options?: CsvSourceOptions): Promise<CsvRow[]> {
  const rows: CsvRow[] = [];
  for await (const row of readCsvRows(file, options)) rows.push(row);
  return rows;
}

/** The rows read before the read failed, and the error it failed with. */
async function readUntilFailure(file: string): Promise<{ rows: CsvRow[]; caught: unknown }> {
  const rows: CsvRow[] = [];
  try {
    for await (const row of readCsvRows(file)) rows.push(row);
  } catch (err) {
    return { rows, caught: err };
  }
  throw new Error('expected the read to fail');
}

async function failure(file: string, options?: CsvSourceOptions): Promise<AppError> {
  try {
    await readAll(file, options);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected the read to fail');
}

describe('readCsvRows', () => {
  it('reads the phone column with quoted commas, multi-line cells, empty lines and short and long rows', async () => {
    expect(await readAll(fixture('contacts.csv'))).toEqual([
      { line: 2, phone: '+86 138-0000-1234' },
      { line: 3, phone: '(415) 555-2671' },
      { line: 7, phone: '' },
      { line: 8, phone: '8613800001234' },
    ]);
  });

  it('reads the space column when one is named, as an empty string when a row is short', async () => {
    const rows = await readAll(fixture('contacts.csv'), { spaceColumn: 'space' });
    expect(rows.map((r) => r.space)).toEqual(['sp-a', 'sp-b', '', 'sp-c']);
  });

  it('prefers an exact default header over a case-insensitive one, in the documented order', async () => {
    const exact = await csvFile('mobile,phone_number,phone\n1,2,3\n');
    expect((await readAll(exact))[0]?.phone).toBe('3');
    const camel = await csvFile('Mobile,PhoneNumber\n1,2\n');
    expect((await readAll(camel))[0]?.phone).toBe('2');
    const loose = await csvFile('name, MOBILE \nx,+1 415 555 2671\n');
    expect((await readAll(loose))[0]?.phone).toBe('+1 415 555 2671');
  });

  it('uses the column named with --phone-column, ignoring case when no header matches exactly', async () => {
    const file = await csvFile('phone,Cell\n1,+86 138 0000 1234\n');
    expect(await readAll(file, { phoneColumn: 'cell' })).toEqual([{ line: 2, phone: '+86 138 0000 1234' }]);
  });

  it('keeps cells untrimmed', async () => {
    const file = await csvFile('phone\n  +1 415 555 2671 \n');
    expect(await readAll(file)).toEqual([{ line: 2, phone: '  +1 415 555 2671 ' }]);
  });

  it('strips a byte order mark and counts CRLF lines, inside quoted cells too, like an editor does', async () => {
    const file = await csvFile(
      '\ufeffphone,name\r\n+1 415 555 2671,a\r\n\r\n"+86\r\n138",b\r\n8613800001234,"c\r\nd"\r\n99,e',
    );
    expect(await readAll(file)).toEqual([
      { line: 2, phone: '+1 415 555 2671' },
      { line: 4, phone: '+86\r\n138' },
      { line: 6, phone: '8613800001234' },
      { line: 8, phone: '99' },
    ]);
  });

  it('reports an unclosed quote as CSV_MALFORMED at the line where the record starts', async () => {
    const file = fixture('malformed.csv');
    const rows: CsvRow[] = [];
    const err = await (async () => {
      try {
        for await (const row of readCsvRows(file)) rows.push(row);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(rows).toEqual([{ line: 2, phone: '+1 415 555 2671' }]);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CSV_MALFORMED');
    expect((err as AppError).message).toBe(
      `${file}:3: Quote Not Closed: the parsing is finished with an opening quote (CSV_QUOTE_NOT_CLOSED)`,
    );
    expect((err as AppError).cause).toMatchObject({ code: 'CSV_QUOTE_NOT_CLOSED' });
  });

  it('counts lines right up to a malformed record that follows multi-line cells and empty lines', async () => {
    const file = await csvFile('phone,note\n1,"a\r\nb"\n\n\n2,"x\n3,y\n');
    const err = await failure(file);
    expect(err.code).toBe('CSV_MALFORMED');
    expect(err.message).toMatch(new RegExp(`^${file}:6: .+ \\(CSV_QUOTE_NOT_CLOSED\\)$`));
  });

  it('yields every row before a malformed record, however many the parser had buffered', async () => {
    const good = Array.from(
      { length: 5_000 },
      (_, i) => `${i},+1 415 555 ${String(i % 10_000).padStart(4, '0')}`,
    );
    const file = await csvFile(`id,phone\n${good.join('\n')}\n5000,"+1 415\n5001,+1 415 555 0000\n`);
    const { rows, caught } = await readUntilFailure(file);
    expect(rows).toHaveLength(5_000);
    expect(rows.at(-1)).toEqual({ line: 5_001, phone: '+1 415 555 4999' });
    expect(caught).toMatchObject({ code: 'CSV_MALFORMED' });
    expect((caught as AppError).message).toMatch(new RegExp(`^${file}:5002: Quote Not Closed`));
  });

  it('yields no row the parser read after a bad record', async () => {
    const huge = 'x'.repeat(1024 * 1024 + 10);
    const file = await csvFile(
      `phone,note\n+1 415 555 0001,a\n\n+1 415 555 0002,${huge}\n+1 415 555 0003,c\n`,
    );
    const { rows, caught } = await readUntilFailure(file);
    expect(rows).toEqual([{ line: 2, phone: '+1 415 555 0001' }]);
    expect(caught).toMatchObject({ code: 'CSV_MALFORMED' });
    expect((caught as AppError).message).toMatch(new RegExp(`^${file}:4: .+ \\(CSV_MAX_RECORD_SIZE\\)$`));
  });

  it('reports a missing file as INPUT_FILE', async () => {
    const file = join(dir, 'no-such-file.csv');
    const err = await failure(file);
    expect(err.code).toBe('INPUT_FILE');
    expect(err.message).toBe(`cannot read ${file}: no such file`);
  });

  it('reports a directory as INPUT_FILE', async () => {
    const err = await failure(dir);
    expect(err.code).toBe('INPUT_FILE');
    expect(err.message).toContain(`cannot read ${dir}`);
  });

  it('lists the headers it found when there is no phone column', async () => {
    const file = await csvFile('id,name,fax\n1,a,+1 415 555 2671\n');
    const err = await failure(file);
    expect(err.code).toBe('CSV_NO_PHONE_COLUMN');
    expect(err.message).toContain(file);
    expect(err.message).toContain('"id", "name", "fax"');
    expect(err.message).toContain('--phone-column');
  });

  it('names the --phone-column value that was not found', async () => {
    const file = await csvFile('id,phone\n1,+1 415 555 2671\n');
    const err = await failure(file, { phoneColumn: 'msisdn' });
    expect(err.code).toBe('CSV_NO_PHONE_COLUMN');
    expect(err.message).toContain('--phone-column "msisdn"');
  });

  it('reports a missing --space-column as a usage error naming it', async () => {
    const err = await failure(fixture('contacts.csv'), { spaceColumn: 'CustSpaceId' });
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain('--space-column "CustSpaceId"');
    expect(err.message).toContain('"id", "name", "Phone", "space"');
  });

  it('reports an empty file as having no phone column', async () => {
    const err = await failure(await csvFile(''));
    expect(err.code).toBe('CSV_NO_PHONE_COLUMN');
    expect(err.message).toContain('is empty');
  });

  it('yields nothing for a file with only a header', async () => {
    expect(await readAll(await csvFile('phone\n'))).toEqual([]);
  });

  it('streams a large file in bounded memory', async () => {
    const rowCount = 200_000;
    const file = join(dir, `${randomUUID()}.csv`);
    const out = createWriteStream(file);
    out.write('id,name,phone,note\n');
    let chunk = '';
    for (let i = 0; i < rowCount; i++) {
      chunk += `${i},"Customer ${i}",+86 138 ${String(i).padStart(8, '0')},"a note, with a comma"\n`;
      if (chunk.length > 65_536) {
        if (!out.write(chunk)) await once(out, 'drain');
        chunk = '';
      }
    }
    out.end(chunk);
    await once(out, 'finish');

    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    let count = 0;
    let lastLine = 0;
    for await (const row of readCsvRows(file)) {
      count++;
      lastLine = row.line;
      if (count % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    expect(count).toBe(rowCount);
    expect(lastLine).toBe(rowCount + 1);
    expect(peak - baseline).toBeLessThan(50 * 1024 * 1024);
  });

  it('closes the file when the reader stops early', async () => {
    const file = await csvFile('phone\n1\n2\n3\n');
    for await (const row of readCsvRows(file)) {
      expect(row.line).toBe(2);
      break;
    }
    // The file can be removed and read again; nothing is left half-open.
    expect(await readAll(file)).toHaveLength(3);
  });

  it.each([
    ['phone,name', ','],
    ['phone;name;space', ';'],
    ['phone\tname', '\t'],
    ['"a;b",phone', ','],
    ['phone', ','],
    ['"x,y";phone;name', ';'],
  ])('detects the delimiter of the header %j as %j', (header, delimiter) => {
    expect(detectDelimiter(header)).toBe(delimiter);
  });

  it('reads semicolon and tab files without being told, and a given delimiter when told', async () => {
    const semi = await csvFile('\ufeffname;phone\r\nA;+86 138 0000 1234\r\n');
    expect(await readAll(semi)).toEqual([{ line: 2, phone: '+86 138 0000 1234' }]);
    const tab = await csvFile('\n\nname\tphone\nA,B\t8613800001234\n');
    expect(await readAll(tab)).toEqual([{ line: 4, phone: '8613800001234' }]);
    const pipe = await csvFile('name|phone\nA|8613800001234\n');
    expect(await readAll(pipe, { delimiter: '|' })).toEqual([{ line: 2, phone: '8613800001234' }]);
  });

  it.each([
    'Phone Number',
    'phone number',
    ' PHONE_NUMBER ',
    'tel',
    'Mobile Phone',
    'mobile_phone',
    'MSISDN',
    'Tel.',
  ])('finds the phone column headed %j', async (header) => {
    const file = await csvFile(`id,${header}\n1,8613800001234\n`);
    expect(await readAll(file)).toEqual([{ line: 2, phone: '8613800001234' }]);
  });

  it('matches --phone-column and --space-column after trimming and ignoring case', async () => {
    const file = await csvFile(' Contact Phone ,Space ID\n8613800001234,S9\n');
    expect(await readAll(file, { phoneColumn: 'contact phone', spaceColumn: 'space_id' })).toEqual([
      { line: 2, phone: '8613800001234', space: 'S9' },
    ]);
  });

  it('reads a stray quote or a formula inside an unquoted cell as text', async () => {
    const file = await csvFile('phone,note\n8613800001234,5" screen\n=HYPERLINK("x"),a\n"quoted ""ok""",b\n');
    expect(await readAll(file)).toEqual([
      { line: 2, phone: '8613800001234' },
      { line: 3, phone: '=HYPERLINK("x")' },
      { line: 4, phone: 'quoted "ok"' },
    ]);
  });

  it('reads standard input when given a stream', async () => {
    const input = Readable.from([Buffer.from('phone\n8613'), Buffer.from('800001234\n')]);
    expect(await readAll('stdin', { input })).toEqual([{ line: 2, phone: '8613800001234' }]);
  });

  it('stops at the first byte that is not UTF-8, naming its line and the likely encoding, after the rows before it', async () => {
    const file = await csvFile(Buffer.from('phone,name\n8613800001234,a\n8613800005678,Jos\xe9\n', 'latin1'));
    const { rows, caught } = await readUntilFailure(file);
    expect(rows).toEqual([{ line: 2, phone: '8613800001234' }]);
    expect(caught).toMatchObject({ code: 'INPUT_FILE' });
    expect((caught as Error).message).toBe(
      `${file}:3: not UTF-8 (byte 0xE9): it looks like Latin-1 (ISO-8859-1) or Windows-1252; save it as UTF-8, or give --encoding windows-1252`,
    );
  });

  it('finds a bad byte far into the file on its line, across chunk boundaries', async () => {
    const good = Array.from({ length: 20_000 }, () => '8613800001234,\u00e9\u4e2d\r\n').join('');
    const file = await csvFile(
      Buffer.concat([Buffer.from(`phone,n\r\n${good}`), Buffer.from('1,\x93x\x94\r\n', 'latin1')]),
    );
    const err = await failure(file);
    expect(err.message).toMatch(
      new RegExp(`^${file}:20002: not UTF-8 \\(byte 0x93\\): it looks like Windows-1252;`),
    );
  });

  it('reads a file in the encoding it is given', async () => {
    const latin = await csvFile(Buffer.from('t\xe9l\xe9phone\n+33 6 12 34 56 78\n', 'latin1'));
    expect(await readAll(latin, { encoding: 'windows-1252', phoneColumn: 't\u00e9l\u00e9phone' })).toEqual([
      { line: 2, phone: '+33 6 12 34 56 78' },
    ]);
    const utf16 = await csvFile(
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('phone\r\n8613800001234\r\n', 'utf16le')]),
    );
    expect(await readAll(utf16, { encoding: 'utf-16le' })).toEqual([{ line: 2, phone: '8613800001234' }]);
  });

  it.each([
    ['a gzip archive', gzipSync('phone\n8613800001234\n')],
    ['a zip archive', Buffer.from('PK\x03\x04\x14\x00\x06\x00', 'latin1')],
    [
      'UTF-16 text (little-endian)',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('phone\n1\n', 'utf16le')]),
    ],
    ['UTF-16 text (big-endian)', Buffer.from([0xfe, 0xff, 0, 0x70, 0, 0x68])],
    [
      'UTF-16 text without a byte order mark (little-endian)',
      Buffer.from('phone\n8613800001234\n', 'utf16le'),
    ],
    ['binary data', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 32))],
  ])('refuses %s, saying what it looks like', async (what, bytes) => {
    const err = await failure(await csvFile(bytes));
    expect(err.code).toBe('INPUT_FILE');
    expect(err.message).toContain(`:1: not a CSV file: it looks like ${what}`);
  });
});
