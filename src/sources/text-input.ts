/**
 * The bytes of an input file as UTF-8 text: what the file looks like is checked first (a gzip or zip
 * archive, a spreadsheet, UTF-16, binary data), then every byte is checked to be UTF-8, or decoded from the
 * encoding the user named. The first line is read ahead so the CSV source can pick its delimiter.
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';

export interface TextInputOptions {
  /** The input's name in messages (`contacts.csv`, `stdin`). */
  name: string;
  /**
   * The input's encoding, a WHATWG label such as `windows-1252`, `latin1`, `gbk`, `utf-16le`.
   * Default `utf-8`, checked byte by byte: anything else is refused with the line and the likely encoding.
   */
  encoding?: string | undefined;
  /** How far to read ahead for the first line before giving up on it. Default 1 MiB. */
  maxFirstLine?: number | undefined;
  /** Called with every chunk of the input's bytes as read, before any decoding (to hash it). Default: none. */
  onBytes?: ((chunk: Buffer) => void) | undefined;
}

export interface TextInput {
  /** The first line that is not blank, without its line break and BOM. */
  firstLine: string;
  /**
   * The whole input as UTF-8 bytes. At an encoding error it ends early, after the last line break before
   * the bad byte, and `failure()` returns the error.
   */
  chunks: AsyncIterable<Buffer>;
  /** The encoding error the input stopped at, if any. */
  failure(): AppError | undefined;
}

/** Checks that `label` names an encoding this Node.js can decode; throws `AppError('USAGE')` if not. */
export function checkEncoding(label: string): void {
  try {
    new TextDecoder(label);
  } catch {
    throw new AppError(
      'USAGE',
      `--encoding ${JSON.stringify(label)} is not an encoding name (try utf-8, windows-1252, latin1, gbk, utf-16le)`,
    );
  }
}

/** Reads `source` as text; throws `AppError('INPUT_FILE')` at once when it is not text at all. */
export async function openTextInput(source: Readable, options: TextInputOptions): Promise<TextInput> {
  const encoding = options.encoding === undefined ? 'utf-8' : new TextDecoder(options.encoding).encoding;
  const maxFirstLine = options.maxFirstLine ?? 1024 * 1024;
  const iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let failure: AppError | undefined;
  const convert = encoding === 'utf-8' ? utf8Checker(options.name, (e) => (failure = e)) : decoder(encoding);

  // Read ahead until the first non-blank line is complete (or the input ends).
  const ahead: Buffer[] = [];
  let aheadBytes = 0;
  let sniffed = false;
  let ended = false;
  let text = '';
  while (!ended && failure === undefined) {
    const next = await iterator.next();
    let bytes: Buffer;
    if (next.done) {
      ended = true;
      bytes = convert.end();
    } else {
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      options.onBytes?.(chunk);
      if (!sniffed) {
        sniffed = true;
        refuseIfNotText(options.name, chunk, encoding);
      }
      bytes = convert.push(chunk);
    }
    if (bytes.length > 0) {
      ahead.push(bytes);
      aheadBytes += bytes.length;
      text += bytes.toString('utf8');
    }
    const content = text.replace(/^\uFEFF/, '').replace(/^[\r\n]+/, '');
    if (/[\r\n]/.test(content) || aheadBytes >= maxFirstLine) break;
  }
  const firstLine = text
    .replace(/^\uFEFF/, '')
    .replace(/^[\r\n]+/, '')
    .split(/[\r\n]/, 1)[0]!;

  async function* chunks(): AsyncIterable<Buffer> {
    try {
      for (const b of ahead) yield b;
      while (!ended && failure === undefined) {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          const last = convert.end();
          if (last.length > 0) yield last;
        } else {
          const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
          options.onBytes?.(chunk);
          const bytes = convert.push(chunk);
          if (bytes.length > 0) yield bytes;
        }
      }
    } finally {
      if (!ended) await iterator.return?.();
    }
  }
  return { firstLine, chunks: chunks(), failure: () => failure };
}

interface Converter {
  /** UTF-8 bytes for the next chunk of input (an incomplete character is kept for the next call). */
  push(chunk: Buffer): Buffer;
  /** What is left at the end of the input. */
  end(): Buffer;
}

function decoder(encoding: string): Converter {
  const d = new TextDecoder(encoding);
  return {
    push: (chunk) => Buffer.from(d.decode(chunk, { stream: true }), 'utf8'),
    end: () => Buffer.from(d.decode(), 'utf8'),
  };
}

/**
 * Passes UTF-8 through unchanged, counting lines; at the first byte that is not UTF-8 it reports the line
 * and what the input probably is, and passes only the lines before it.
 */
function utf8Checker(name: string, fail: (e: AppError) => void): Converter {
  let carry: Buffer = Buffer.alloc(0);
  /** Line breaks (`\n`, `\r\n`, lone `\r`) in the bytes passed so far. */
  let lines = 0;
  let pendingCr = false;
  let failed = false;

  const countLines = (b: Buffer) => {
    if (b.length === 0) return;
    if (pendingCr && b[0] !== 10) lines++;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
    if (b.includes(13)) {
      for (let i = b.indexOf(13); i !== -1; i = b.indexOf(13, i + 1)) {
        if (i + 1 < b.length && b[i + 1] !== 10) lines++;
      }
    }
    pendingCr = b[b.length - 1] === 13;
  };

  const check = (bytes: Buffer, final: boolean): Buffer => {
    if (failed) return Buffer.alloc(0);
    const cut = final ? bytes.length : completeLength(bytes);
    const whole = bytes.subarray(0, cut);
    carry = Buffer.from(bytes.subarray(cut));
    if (isUtf8(whole)) {
      countLines(whole);
      return whole;
    }
    failed = true;
    const bad = firstInvalidUtf8(whole);
    const before = whole.subarray(0, bad);
    // Pass the complete lines before the bad byte, so every row before it is read.
    const lastBreak = Math.max(before.lastIndexOf(10), before.lastIndexOf(13));
    const passed = before.subarray(0, lastBreak + 1);
    countLines(before);
    const line = lines + (pendingCr ? 1 : 0) + 1;
    const byte = whole[bad] ?? 0;
    fail(
      new AppError(
        'INPUT_FILE',
        `${name}:${line}: not UTF-8 (byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')}): ${guessEncoding(
          whole.subarray(bad, bad + 1024),
        )}`,
      ),
    );
    return passed;
  };

  return {
    push: (chunk) => check(carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk, false),
    end: () => check(carry, true),
  };
}

/** Length of `b` without a UTF-8 sequence cut off at its end. */
function completeLength(b: Buffer): number {
  for (let k = 1; k <= Math.min(4, b.length); k++) {
    const c = b[b.length - k]!;
    if (c < 0x80) return b.length;
    if (c >= 0xc0) {
      const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return need > k ? b.length - k : b.length;
    }
  }
  return b.length;
}

/** Offset of the first byte of `b` that does not belong to a valid UTF-8 sequence. */
export function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const n = sequenceLength(b, i);
    if (n === 0) return i;
    i += n;
  }
  return b.length;
}

/** Length of the valid UTF-8 sequence starting at `b[i]`, or 0 when there is none. */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let need: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
  else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
  else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
  else return 0;
  let cp = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
  for (let k = 1; k <= need; k++) {
    const t = b[i + k];
    if (t === undefined || (t & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (t & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return need + 1;
}

/** What bytes that are not UTF-8 probably are (judged from `sample`, which starts at the first), and what to do. */
function guessEncoding(sample: Buffer): string {
  let singles = 0;
  let pairs = 0;
  let c1 = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample[i]!;
    if (c < 0x80) continue;
    const valid = sequenceLength(sample, i);
    if (valid > 1) {
      i += valid - 1;
      continue;
    }
    if (c <= 0x9f) c1++;
    const next = sample[i + 1];
    if (c >= 0x81 && c <= 0xfe && next !== undefined && next >= 0x80 && next <= 0xfe) {
      pairs++;
      i++;
    } else singles++;
  }
  if (pairs > singles) {
    return 'it looks like a double-byte encoding such as GBK/GB18030 (Chinese); save it as UTF-8, or give --encoding gb18030';
  }
  const which = c1 > 0 ? 'Windows-1252' : 'Latin-1 (ISO-8859-1) or Windows-1252';
  return `it looks like ${which}; save it as UTF-8, or give --encoding windows-1252`;
}

/** Refuses input that is not text, judged by its first bytes. */
function refuseIfNotText(name: string, head: Buffer, encoding: string): void {
  const looks = (what: string, fix: string) =>
    new AppError('INPUT_FILE', `${name}:1: not a CSV file: it looks like ${what}; ${fix}`);
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) throw looks('a gzip archive', 'decompress it first (gunzip)');
  if (starts(0x50, 0x4b, 0x03, 0x04)) {
    throw looks('a zip archive (an Excel .xlsx workbook is one)', 'export the sheet as CSV UTF-8');
  }
  if (starts(0xd0, 0xcf, 0x11, 0xe0)) throw looks('an Excel .xls workbook', 'export the sheet as CSV UTF-8');
  if (starts(0x25, 0x50, 0x44, 0x46)) throw looks('a PDF document', 'export the data as CSV UTF-8');
  if (starts(0x42, 0x5a, 0x68)) throw looks('a bzip2 archive', 'decompress it first (bunzip2)');
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a)) throw looks('an xz archive', 'decompress it first (unxz)');
  if (encoding !== 'utf-8') return;
  if (starts(0xff, 0xfe, 0x00, 0x00) || starts(0x00, 0x00, 0xfe, 0xff)) {
    throw looks('UTF-32 text', 'save it as UTF-8');
  }
  if (starts(0xff, 0xfe))
    throw looks('UTF-16 text (little-endian)', 'save it as UTF-8, or give --encoding utf-16le');
  if (starts(0xfe, 0xff))
    throw looks('UTF-16 text (big-endian)', 'save it as UTF-8, or give --encoding utf-16be');
  const sample = head.subarray(0, 4096);
  let zeroEven = 0;
  let zeroOdd = 0;
  let control = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample[i]!;
    if (c === 0) {
      if (i % 2 === 0) zeroEven++;
      else zeroOdd++;
    } else if (c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 12) control++;
  }
  const half = sample.length / 2;
  if (sample.length >= 4 && zeroOdd > half * 0.6 && zeroEven === 0) {
    throw looks(
      'UTF-16 text without a byte order mark (little-endian)',
      'save it as UTF-8, or give --encoding utf-16le',
    );
  }
  if (sample.length >= 4 && zeroEven > half * 0.6 && zeroOdd === 0) {
    throw looks(
      'UTF-16 text without a byte order mark (big-endian)',
      'save it as UTF-8, or give --encoding utf-16be',
    );
  }
  if (zeroEven + zeroOdd + control > sample.length * 0.1) {
    throw looks('binary data', 'give a CSV text file');
  }
}
