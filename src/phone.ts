/**
 * Phone number normalisation (docs/csv-import.md, "Phone numbers"): whatever a CSV or a CRM holds, the number is
 * stored and sent as E.164 digits without the '+', country code first (`8613800001234`).
 *
 * Metadata: the default ('min') metadata of libphonenumber-js. `isValidNumber()` with it checks the country
 * calling code, the number's length for that country and its leading digits, which rejects typos and
 * truncated numbers, while staying lenient with new number ranges. The 'max' metadata would also match each
 * number against per-type patterns (mobile, fixed line, ...): stricter, but twice as slow and quick to turn
 * away numbers from ranges opened after the metadata was built; a wrongly valid number costs one API call, a
 * wrongly rejected one loses a customer. Validity, not mere possibility (`isPossible()`), is required.
 */
import { isSupportedCountry, parsePhoneNumberFromString, validatePhoneNumberLength } from 'libphonenumber-js';
import type { CountryCode, PhoneNumber, ValidatePhoneNumberLengthResult } from 'libphonenumber-js';
import { fastInternational, fastNational } from './phone-fast.js';
import { callingCodeOf, nationalElsewhere } from './phone-ambiguity.js';

export type PhoneResult =
  | {
      ok: true;
      phone: string;
      /** Set when the number was written as bare digits (no `+`, no `00`) and read as international: its calling code. */
      bareCallingCode?: string;
    }
  | { ok: false; reason: string };

/** Characters people write between digits: white space, dashes (ASCII and typographic), dots, parentheses. */
const FORMATTING = /[\s\-.()\u2010-\u2015\u2212]/g;
const LETTER = /\p{L}/u;
const DIGITS = /^[0-9]+$/;

/**
 * No reading of more digits than this can be valid: E.164 allows 15 including the country code, and a
 * national number written with a trunk prefix ('0', '1', '8') is at most that long.
 */
const MAX_DIGITS = 17;

/**
 * Answers for recently seen inputs: a file repeats numbers, and a repeated one costs a lookup instead of
 * a parse. Bounded; emptied when full (cheaper than tracking use, and a file's repeats are usually near).
 * Small on purpose: its entries then die young, in V8's young generation. A cache of 50 000 kept each
 * entry long enough to reach the old generation, whose garbage grew a 500 000-row import's peak RSS by
 * about 35 MB and slowed it.
 */
const recent = new Map<string, PhoneResult>();
const CACHE_SIZE = 4096;

/** Longest cell read as a phone number (formatting included); longer ones are `too long`. */
const MAX_INPUT_LENGTH = 100;

const REASON_NO_COUNTRY = 'no country code and no --default-country';

const LENGTH_REASONS: Record<ValidatePhoneNumberLengthResult, string> = {
  INVALID_COUNTRY: 'invalid country code',
  NOT_A_NUMBER: 'not a number',
  TOO_SHORT: 'too short',
  TOO_LONG: 'too long',
  INVALID_LENGTH: 'invalid length',
};

/**
 * Normalises one phone number to E.164 digits without '+' (e.g. `+86 138-0000-1234` → `8613800001234`).
 *
 * - Formatting (spaces, dashes, dots, parentheses) is ignored; letters or other characters reject the number.
 * - `+` or a `00` international prefix: the digits are read as country code plus number.
 * - Otherwise, with `defaultCountry` (ISO 3166 alpha-2, either case): read as a national number of that
 *   country (national prefixes such as a leading '0' are handled); if that is not a valid number but the
 *   digits are a valid international number (`8613800001234`), the international reading is taken.
 * - Otherwise, without `defaultCountry`: accepted only when the digits are a valid international number
 *   (the API's own form, `8613800001234`), else rejected with `no country code and no --default-country`;
 *   through a one-digit calling code (1, 7) they are rejected as `ambiguous: …` when the same digits are
 *   also a valid national number of another country (`18679190031`: +1 867… or a Chinese mobile).
 * - Bare digits read as international carry their calling code in `bareCallingCode`.
 *
 * A rejection carries a short reason meant for the rejects file: `empty`, `contains letters`,
 * `contains invalid characters`, `starts with a minus sign`, `too short`, `too long`, `invalid length`, `invalid country code`,
 * `not a valid number for <CC>`, `no country code and no --default-country`, `ambiguous: …`, `unknown default country <CC>`.
 */
export function normalisePhone(raw: string, defaultCountry?: string): PhoneResult {
  // No number is written in this many characters; a huge cell is neither parsed nor cached.
  if (raw.length > MAX_INPUT_LENGTH) return reject('too long');
  const key = defaultCountry === undefined ? raw : `${defaultCountry}\u0000${raw}`;
  const known = recent.get(key);
  if (known !== undefined) return known;
  const result = normaliseUncached(raw, defaultCountry);
  if (recent.size >= CACHE_SIZE) recent.clear();
  recent.set(key, result);
  return result;
}

function normaliseUncached(raw: string, defaultCountry?: string): PhoneResult {
  const text = raw.trim();
  if (text === '') return reject('empty');
  // Plain digits, the usual case, need neither the letter test nor the formatting pass.
  const plain = DIGITS.test(text);
  if (!plain && LETTER.test(text)) return reject('contains letters');
  // A spreadsheet's negative number, not a number written with a dash.
  if (/^[-\u2212]/.test(text)) return reject('starts with a minus sign');

  let digits = plain ? text : text.replace(FORMATTING, '');
  let international = false;
  if (digits.startsWith('+')) {
    international = true;
    digits = digits.slice(1);
  } else if (digits.startsWith('00')) {
    international = true;
    digits = digits.slice(2);
  }
  if (digits === '') return reject(international ? 'too short' : 'empty');
  if (!DIGITS.test(digits)) return reject('contains invalid characters');
  if (digits.length > MAX_DIGITS) return reject('too long');

  if (international) return fast(fastInternational(digits)) ?? readInternational(digits);

  if (!defaultCountry) {
    const quick = fastInternational(digits);
    if (quick !== undefined) return bare(quick, true);
    const asInternational = parsePhoneNumberFromString(`+${digits}`);
    return asInternational?.isValid()
      ? bare(asInternational.number.slice(1), true)
      : reject(REASON_NO_COUNTRY);
  }

  const country = defaultCountry.toUpperCase();
  if (!isSupportedCountry(country)) return reject(`unknown default country ${defaultCountry}`);
  const quick = fast(fastNational(digits, country));
  if (quick) return quick;
  const national = parsePhoneNumberFromString(digits, country);
  if (national?.isValid()) return accept(national);
  const asInternational = parsePhoneNumberFromString(`+${digits}`);
  if (asInternational?.isValid()) return bare(asInternational.number.slice(1), false);
  return reject(lengthReason(digits, country) ?? `not a valid number for ${country}`);
}

/**
 * Bare digits read as international: marked with their calling code, or refused when, without a
 * default country (`checkAmbiguity`), they are just as well the national number of another country.
 */
function bare(phone: string, checkAmbiguity: boolean): PhoneResult {
  const code = callingCodeOf(phone);
  if (code === undefined) return { ok: true, phone };
  const elsewhere = checkAmbiguity ? nationalElsewhere(phone, code) : undefined;
  if (elsewhere !== undefined) {
    return reject(
      `ambiguous: +${code} or a national number of ${elsewhere}; give --default-country or write it with +`,
    );
  }
  return { ok: true, phone, bareCallingCode: code };
}

/** True when `cc` is an ISO 3166 alpha-2 code (either case) libphonenumber-js has numbering rules for. */
export function isCountryCode(cc: string): boolean {
  return cc.length === 2 && isSupportedCountry(cc.toUpperCase());
}

function readInternational(digits: string): PhoneResult {
  const text = `+${digits}`;
  const parsed = parsePhoneNumberFromString(text);
  if (parsed?.isValid()) return accept(parsed);
  const byLength = lengthReason(text);
  if (byLength !== undefined) return reject(byLength);
  if (parsed === undefined) return reject('not a valid number');
  return reject(`not a valid number for ${parsed.country ?? `+${parsed.countryCallingCode}`}`);
}

function lengthReason(text: string, country?: CountryCode): string | undefined {
  const result = validatePhoneNumberLength(text, country);
  return result === undefined ? undefined : LENGTH_REASONS[result];
}

type Accepted = Extract<PhoneResult, { ok: true }>;

function accept(parsed: PhoneNumber): Accepted {
  // `number` is E.164 ('+' and digits).
  return { ok: true, phone: parsed.number.slice(1) };
}

function fast(phone: string | undefined): Accepted | undefined {
  return phone === undefined ? undefined : { ok: true, phone };
}

function reject(reason: string): PhoneResult {
  return { ok: false, reason };
}
