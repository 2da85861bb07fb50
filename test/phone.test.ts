import { describe, expect, it } from 'vitest';
import { isCountryCode, normalisePhone } from '../src/phone.js';

describe('normalisePhone', () => {
  const accepted: [raw: string, country: string | undefined, phone: string][] = [
    ['+86 138-0000-1234', undefined, '8613800001234'],
    ['0086 13800001234', undefined, '8613800001234'],
    ['8613800001234', undefined, '8613800001234'],
    ['  +1 (415) 555.2671 ', undefined, '14155552671'],
    ['(415) 555-2671', 'US', '14155552671'],
    ['415.555.2671', 'us', '14155552671'],
    ['1 415 555 2671', 'US', '14155552671'],
    ['020 7183 8750', 'GB', '442071838750'],
    ['13800001234', 'CN', '8613800001234'],
    ['8613800001234', 'US', '8613800001234'],
    ['+44 20 7183 8750', 'US', '442071838750'],
  ];
  it.each(accepted)('reads %j (default country %s) as %s', (raw, country, phone) => {
    expect(normalisePhone(raw, country)).toEqual({ ok: true, phone });
  });

  const rejected: [raw: string, country: string | undefined, reason: string][] = [
    ['415.555.2671', undefined, 'no country code and no --default-country'],
    ['4155552671', '', 'no country code and no --default-country'],
    ['+1 415 CALL NOW', undefined, 'contains letters'],
    ['415-555-2671 ext. 12', 'US', 'contains letters'],
    ['', undefined, 'empty'],
    ['   ', 'US', 'empty'],
    ['+', undefined, 'too short'],
    ['+86 123', undefined, 'too short'],
    ['(415) 555-267', 'US', 'too short'],
    ['+86 138 0000 1234 5678', undefined, 'too long'],
    ['1234567890123456789', 'US', 'too long'],
    ['+999 123 456 789', undefined, 'invalid country code'],
    ['(099) 555-2671', 'US', 'not a valid number for US'],
    ['+1 999 555 2671', undefined, 'not a valid number for +1'],
    ['415/555/2671', 'US', 'contains invalid characters'],
    ['+1 415 +555 2671', undefined, 'contains invalid characters'],
    ['4155552671', 'ZZ', 'unknown default country ZZ'],
    ['-8613800001234', undefined, 'starts with a minus sign'],
    [' -86 138 0000 1234', 'CN', 'starts with a minus sign'],
    ['\u22128613800001234', undefined, 'starts with a minus sign'],
    ['8613800001234\u0000', undefined, 'contains invalid characters'],
    ['8'.repeat(300_000), undefined, 'too long'],
  ];
  it.each(rejected)('rejects %j (default country %s) as %j', (raw, country, reason) => {
    expect(normalisePhone(raw, country)).toEqual({ ok: false, reason });
  });

  it('normalises 100 000 numbers in a row, each to its own digits (speed: npm run bench -- throughput)', () => {
    for (let i = 0; i < 100_000; i++) {
      const digits = String(i).padStart(8, '0');
      expect(normalisePhone(`+86 138 ${digits}`)).toEqual({ ok: true, phone: `86138${digits}` });
    }
  });
});

describe('isCountryCode', () => {
  it('accepts ISO 3166 alpha-2 codes in either case', () => {
    expect(isCountryCode('US')).toBe(true);
    expect(isCountryCode('cn')).toBe(true);
    expect(isCountryCode('GB')).toBe(true);
  });

  it('rejects unknown codes, calling codes and longer names', () => {
    expect(isCountryCode('ZZ')).toBe(false);
    expect(isCountryCode('UK')).toBe(false);
    expect(isCountryCode('86')).toBe(false);
    expect(isCountryCode('USA')).toBe(false);
    expect(isCountryCode('')).toBe(false);
  });
});
