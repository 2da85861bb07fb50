import { describe, expect, it } from 'vitest';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { CountryCode } from 'libphonenumber-js';
import { isCountryCode, normalisePhone } from '../src/phone.js';

describe('bare digits without a default country', () => {
  const ambiguous: [raw: string, code: string, country: string][] = [
    ['18679190031', '1', 'CN'],
    ['186 7919 0031', '1', 'CN'],
    ['14155552671', '1', 'CN'],
    ['79161234567', '7', 'CN'],
  ];
  it.each(ambiguous)('refuses %j: +%s or a valid national number of %s', (raw, code, country) => {
    expect(normalisePhone(raw)).toEqual({
      ok: false,
      reason: `ambiguous: +${code} or a national number of ${country}; give --default-country or write it with +`,
    });
    // Both readings really are valid numbers, by the full parse.
    const digits = raw.replace(/ /g, '');
    expect(parsePhoneNumberFromString(`+${digits}`)?.isValid()).toBe(true);
    const national = parsePhoneNumberFromString(digits, country as CountryCode);
    expect(national?.isValid() && national.nationalNumber).toBe(digits);
  });

  it('reads them in the default country, or as written with + or 00', () => {
    expect(normalisePhone('18679190031', 'CN')).toEqual({ ok: true, phone: '8618679190031' });
    expect(normalisePhone('18679190031', 'CA')).toEqual({ ok: true, phone: '18679190031' });
    expect(normalisePhone('+1 867 919 0031')).toEqual({ ok: true, phone: '18679190031' });
    expect(normalisePhone('0018679190031')).toEqual({ ok: true, phone: '18679190031' });
    expect(normalisePhone('+79161234567')).toEqual({ ok: true, phone: '79161234567' });
  });

  it('keeps reading unambiguous international digits, and says which calling code they were read with', () => {
    expect(normalisePhone('8613800001234')).toEqual({
      ok: true,
      phone: '8613800001234',
      bareCallingCode: '86',
    });
    expect(normalisePhone('86 138 0000 1234')).toEqual({
      ok: true,
      phone: '8613800001234',
      bareCallingCode: '86',
    });
    expect(normalisePhone('6591234567')).toEqual({ ok: true, phone: '6591234567', bareCallingCode: '65' });
    // Not a national number of the default country, read as international: marked too.
    expect(normalisePhone('8613800001234', 'US')).toEqual({
      ok: true,
      phone: '8613800001234',
      bareCallingCode: '86',
    });
    // Written as international: no mark.
    expect(normalisePhone('+86 138 0000 1234')).toEqual({ ok: true, phone: '8613800001234' });
    expect(normalisePhone('13800001234', 'CN')).toEqual({ ok: true, phone: '8613800001234' });
  });
});

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
    const result = normalisePhone(raw, country);
    expect(result.ok && { ok: result.ok, phone: result.phone }).toEqual({ ok: true, phone });
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
