/**
 * The fast path of `normalisePhone` for the common case: plain digits whose country calling code has one
 * country and no national prefix to strip. It follows libphonenumber-js's own parse for that case step by
 * step (the same 'min' metadata, the same patterns) but without building a parse result, and answers only
 * when it is certain the full parse would accept the number with the same E.164 digits; anything else
 * (a national prefix, an IDD prefix, a calling code shared by several countries, an invalid number) gets
 * `undefined` and goes through the full parse, which also gives the reason for a rejection.
 * test/phone-fast.test.ts checks both paths agree over every country's numbering plan.
 */
import { Metadata } from 'libphonenumber-js/core';
import type { CountryCode } from 'libphonenumber-js/core';
import metadataJson from 'libphonenumber-js/min/metadata';

/** The parts of libphonenumber-js's numbering plan read here (its type declarations omit most of them). */
interface PlanMetadata {
  callingCode(): string;
  IDDPrefix(): string;
  nationalNumberPattern(): string;
  nationalPrefixForParsing(): string | undefined;
  hasTypes(): boolean;
}

interface Plan {
  callingCode: string;
  /** The whole national number matches: libphonenumber-js's validity test with 'min' metadata. */
  valid: RegExp;
  /** A national prefix (or carrier code) the parse would try to strip; its presence means "full parse". */
  nationalPrefix: RegExp | undefined;
  /** The international dialling prefix, which the parse strips from a number without '+'. */
  idd: RegExp;
}

/** libphonenumber-js's bounds on a national number (MIN_LENGTH_FOR_NSN, MAX_LENGTH_FOR_NSN). */
const MIN_NATIONAL = 2;
const MAX_NATIONAL = 17;

const metadata = new Metadata(metadataJson);
const callingCodes = (metadataJson as { country_calling_codes: Record<string, string[]> })
  .country_calling_codes;
/** Plan of the one country of a calling code; null when the code is shared or the plan needs the full parse. */
const plansByCallingCode = new Map<string, Plan | null>();
const plansByCountry = new Map<string, Plan | null>();

function buildPlan(country: string): Plan | null {
  metadata.selectNumberingPlan(country as CountryCode);
  const plan = metadata.numberingPlan as unknown as PlanMetadata | undefined;
  if (!plan) return null;
  const callingCode = plan.callingCode();
  // Several countries on one calling code: the parse picks the country by its leading digits and types.
  if (callingCodes[callingCode]?.length !== 1 || plan.hasTypes()) return null;
  const prefix = plan.nationalPrefixForParsing();
  return {
    callingCode,
    valid: new RegExp(`^(?:${plan.nationalNumberPattern()})$`),
    nationalPrefix: prefix ? new RegExp(`^(?:${prefix})`) : undefined,
    idd: new RegExp(`^(?:${plan.IDDPrefix()})`),
  };
}

function planOfCountry(country: string): Plan | null {
  let plan = plansByCountry.get(country);
  if (plan === undefined) {
    plan = hasCountry(country) ? buildPlan(country) : null;
    plansByCountry.set(country, plan);
  }
  return plan;
}

function hasCountry(country: string): boolean {
  return Object.prototype.hasOwnProperty.call(
    (metadataJson as { countries: Record<string, unknown> }).countries,
    country,
  );
}

function planOfCallingCode(code: string): Plan | null | undefined {
  let plan = plansByCallingCode.get(code);
  if (plan === undefined) {
    const countries = callingCodes[code];
    if (!countries) return undefined;
    plan = countries.length === 1 ? planOfCountry(countries[0]!) : null;
    plansByCallingCode.set(code, plan);
  }
  return plan;
}

function validNational(plan: Plan, national: string): boolean {
  return (
    national.length >= MIN_NATIONAL &&
    national.length <= MAX_NATIONAL &&
    (plan.nationalPrefix === undefined || !plan.nationalPrefix.test(national)) &&
    plan.valid.test(national)
  );
}

/**
 * `digits` (ASCII digits only) read as `+<digits>`: the E.164 digits when the full parse certainly
 * accepts them, else undefined.
 */
export function fastInternational(digits: string): string | undefined {
  if (digits.charCodeAt(0) === 48 /* '0' */) return undefined;
  // Calling codes are prefix-free: the first one found is the parse's.
  for (let length = 1; length <= 3 && length < digits.length; length++) {
    const plan = planOfCallingCode(digits.slice(0, length));
    if (plan === undefined) continue;
    if (plan === null) return undefined;
    return validNational(plan, digits.slice(length)) ? digits : undefined;
  }
  return undefined;
}

/**
 * `digits` (ASCII digits only) read as a national number of `country` (upper case, supported): the E.164
 * digits when the full parse certainly accepts them, else undefined.
 */
export function fastNational(digits: string, country: string): string | undefined {
  const plan = planOfCountry(country);
  if (!plan) return undefined;
  // An IDD prefix: the parse reads the rest as an international number.
  if (plan.idd.test(digits)) return undefined;
  if (digits.startsWith(plan.callingCode)) {
    // The calling code written without '+' (`8613800001234` for CN). The parse strips it when the digits
    // are not a national number by the pattern but the rest is; any national prefix, and the case where
    // only the length decides, are left to the full parse.
    const rest = digits.slice(plan.callingCode.length);
    if (plan.nationalPrefix?.test(digits) || plan.valid.test(digits)) return undefined;
    return validNational(plan, rest) ? digits : undefined;
  }
  return validNational(plan, digits) ? plan.callingCode + digits : undefined;
}
