/**
 * Whether digits written without `+` or `00` could mean two things. Read as international, digits
 * starting with a one-digit calling code (`1` for North America, `7` for Russia and Kazakhstan) are
 * often also the whole national number of another country: `18679190031` is +1 867 919 0031 in Canada
 * and a Chinese mobile, `79161234567` a Moscow mobile and a Nanchang landline. Longer calling codes
 * leave no such doubt in practice (`8613800001234` is no national number of the length it would need).
 * Same 'min' metadata as the normaliser: a country's national number pattern, matched whole.
 */
import { Metadata } from 'libphonenumber-js/core';
import type { CountryCode } from 'libphonenumber-js/core';
import metadataJson from 'libphonenumber-js/min/metadata';

interface PlanMetadata {
  callingCode(): string;
  nationalNumberPattern(): string;
}

const json = metadataJson as {
  countries: Record<string, unknown>;
  country_calling_codes: Record<string, string[]>;
};

/** The country named first when several would read the digits: the case seen most in the field. */
const FIRST = 'CN';

let patterns: { country: string; callingCode: string; valid: RegExp }[] | undefined;

/** Every country's national number pattern, `FIRST` first, then by country code; built on first use. */
function nationalPatterns() {
  if (patterns) return patterns;
  const metadata = new Metadata(metadataJson);
  const countries = Object.keys(json.countries).sort((a, b) =>
    a === FIRST ? -1 : b === FIRST ? 1 : a.localeCompare(b),
  );
  patterns = countries.map((country) => {
    metadata.selectNumberingPlan(country as CountryCode);
    const plan = metadata.numberingPlan as unknown as PlanMetadata;
    return {
      country,
      callingCode: plan.callingCode(),
      valid: new RegExp(`^(?:${plan.nationalNumberPattern()})$`),
    };
  });
  return patterns;
}

/** The calling code `e164` (digits, no `+`) starts with, or undefined. Calling codes are prefix-free. */
export function callingCodeOf(e164: string): string | undefined {
  for (let length = 1; length <= 3 && length < e164.length; length++) {
    const code = e164.slice(0, length);
    if (json.country_calling_codes[code]) return code;
  }
  return undefined;
}

/**
 * For digits that are a valid international number through the one-digit calling code `callingCode`:
 * a country (of another calling code) of which the same digits are a valid national number, or
 * undefined when there is none or the calling code is longer.
 */
export function nationalElsewhere(digits: string, callingCode: string): string | undefined {
  if (callingCode.length !== 1) return undefined;
  for (const p of nationalPatterns()) {
    if (p.callingCode !== callingCode && p.valid.test(digits)) return p.country;
  }
  return undefined;
}
