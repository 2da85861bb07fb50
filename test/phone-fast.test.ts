import { getCountries, getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import examples from 'libphonenumber-js/mobile/examples';
import { describe, expect, it } from 'vitest';
import { fastInternational, fastNational } from '../src/phone-fast.js';

/**
 * Every country's example number and, for each, deterministic variations around it: each digit changed,
 * one digit dropped or added, a leading 0, 1 or the calling code in front. The fast path may decline any
 * of them, but whatever it accepts the full parse must accept as the same E.164 number.
 */
function variations(national: string, callingCode: string): string[] {
  const out = new Set<string>([national, `0${national}`, `1${national}`, `${callingCode}${national}`]);
  out.add(national.slice(0, -1));
  out.add(`${national}5`);
  for (let i = 0; i < national.length; i++) {
    for (const d of '0123456789') out.add(national.slice(0, i) + d + national.slice(i + 1));
  }
  return [...out].filter((s) => s.length > 0);
}

function fullParse(
  text: string,
  country?: Parameters<typeof parsePhoneNumberFromString>[1],
): string | undefined {
  const parsed = parsePhoneNumberFromString(text, country);
  return parsed?.isValid() ? parsed.number.slice(1) : undefined;
}

describe('the fast path of phone normalisation', () => {
  const cases = getCountries().flatMap((country) => {
    const example = examples[country];
    if (!example) return [];
    const callingCode = getCountryCallingCode(country);
    return variations(example, callingCode).map((national) => ({ country, callingCode, national }));
  });

  it('agrees with the full parse on every number it answers for, read internationally', () => {
    let answered = 0;
    for (const { callingCode, national } of cases) {
      const digits = callingCode + national;
      const fast = fastInternational(digits);
      if (fast === undefined) continue;
      answered += 1;
      expect({ digits, phone: fast }).toEqual({ digits, phone: fullParse(`+${digits}`) });
    }
    // It must actually take the common case, or it is no fast path.
    expect(answered).toBeGreaterThan(cases.length / 4);
  });

  it('agrees with the full parse on every number it answers for, read as a national number', () => {
    let answered = 0;
    let withCallingCode = 0;
    for (const { country, callingCode, national } of cases) {
      const fast = fastNational(national, country);
      if (fast === undefined) continue;
      answered += 1;
      if (national.startsWith(callingCode) && fast === national) withCallingCode += 1;
      expect({ country, national, phone: fast }).toEqual({
        country,
        national,
        phone: fullParse(national, country),
      });
    }
    expect(answered).toBeGreaterThan(cases.length / 10);
    // Numbers written with their calling code but no '+' are common too.
    expect(withCallingCode).toBeGreaterThan(100);
  });

  it('takes the usual Chinese mobile forms and leaves prefixed or shared-code numbers to the full parse', () => {
    expect(fastInternational('8613800001234')).toBe('8613800001234');
    expect(fastNational('13800001234', 'CN')).toBe('8613800001234');
    expect(fastNational('013800001234', 'CN')).toBeUndefined(); // national prefix 0
    expect(fastNational('8613800001234', 'CN')).toBe('8613800001234'); // calling code without '+'
    expect(fastNational('86013800001234', 'CN')).toBeUndefined(); // …then a national prefix
    expect(fastInternational('14155552671')).toBeUndefined(); // +1 is shared by 25 countries
    expect(fastInternational('0123')).toBeUndefined();
  });
});
