import { execFileSync, spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { createLogger } from '../src/log.js';
import { maskPhone, maskPhonesIn } from '../src/mask.js';

describe('maskPhone', () => {
  it('keeps the first four and last two digits', () => {
    expect(maskPhone('8613800001234')).toBe('8613*******34');
    expect(maskPhone('123456')).toBe('******');
  });

  it('gives the same text when masking twice', () => {
    expect(maskPhone(maskPhone('8613800001234'))).toBe('8613*******34');
  });
});

describe('maskPhonesIn', () => {
  it('masks the given number with or without + or 00 in front', () => {
    expect(maskPhonesIn('a 8613800001234 b +8613800001234 c 008613800001234', ['8613800001234'])).toBe(
      'a 8613*******34 b +8613*******34 c 008613*******34',
    );
  });

  it('leaves a digit run that merely contains the number', () => {
    expect(maskPhonesIn('id 98613800001234', ['8613800001234'])).toBe('id 98613800001234');
  });

  it('masks digit runs labelled as phone numbers', () => {
    expect(maskPhonesIn('The PhoneNumber 8613800001234 is not valid.')).toBe(
      'The PhoneNumber 8613*******34 is not valid.',
    );
    expect(maskPhonesIn('phone: +86 138 0000 1234; mobile=447911123456; tel 0044-7911-123456')).toBe(
      'phone: +8613*******34; mobile=4479******56; tel 0044********56',
    );
  });

  it('leaves request ids, space ids and counts whole', () => {
    const text = 'RequestId 5E4A3B2C-9D1F-4E2A-8B7C-1563076C3F46, CustSpaceId 2934839388494, 12345678 calls';
    expect(maskPhonesIn(text, ['8613800001234'])).toBe(text);
  });
});

describe('createLogger', () => {
  it('masks phone fields and drops secrets in lines and child bindings', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ destination: sink });
    log
      .child({ phone: '8613800001234' })
      .info({ phoneNumber: '447911123456', accessKeySecret: 's3cr3t' }, 'x');
    log.info({ job: { phone_number: '8613800001234', securityToken: 'tok-value' } }, 'y');
    const text = lines.join('');
    expect(text).toContain('"phone":"8613*******34"');
    expect(text).toContain('"phoneNumber":"4479******56"');
    expect(text).toContain('"phone_number":"8613*******34"');
    expect(text).not.toMatch(/8613800001234|447911123456|s3cr3t|tok-value/);
  });
});

describe('createLogger on a terminal', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const program = `import { createLogger } from './dist/src/log.js'; createLogger().info('on a terminal');`;

  it('starts each line by clearing the terminal line it lands on, so a progress line is not torn', () => {
    // `script` runs the logger with its stderr on a pseudo-terminal.
    const out = execFileSync('script', ['-qec', `node --input-type=module -e "${program}"`, '/dev/null'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out.startsWith('\r\x1b[K{')).toBe(true);
    expect(out).toContain('"msg":"on a terminal"');
  });

  it('writes plain JSON lines when stderr is not a terminal', () => {
    const child = spawnSync('node', ['--input-type=module', '-e', program], { cwd: root, encoding: 'utf8' });
    expect(child.stderr.startsWith('{"level":30')).toBe(true);
  });
});
