/**
 * The `Data` object of a QueryPhoneBusinessProfile answer, turned into the shape we store
 * (docs/contract.md, "Tables", `business_profiles`): text trimmed (an empty string stays an empty string, a missing
 * field is null), `raw` kept as received. Text PostgreSQL cannot store (NUL, a lone UTF-16 surrogate) is
 * cleaned in both (`storableString`), so an odd answer is stored once instead of failing its write.
 */
import { storableJson, storableString } from '../storable-text.js';

/** A business profile as stored: text fields trimmed (the API pads some with "\n"); raw keeps the API's Data object as received (cleaned the same way). */
export interface BusinessProfile {
  vertical: string | null;
  description: string | null;
  email: string | null;
  address: string | null;
  profilePictureUrl: string | null;
  websites: string[];
  about: string | null;
  requestId: string;
  raw: Record<string, unknown>;
}

/** The value trimmed, or null when it is missing or not a string. */
function text(value: unknown): string | null {
  return typeof value === 'string' ? storableString(value).trim() : null;
}

/** Each website trimmed, in the API's order; entries that are not strings are dropped. */
function websites(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((item): item is string => typeof item === 'string')
    .map((site) => storableString(site).trim());
}

export function profileFromData(data: Record<string, unknown>, requestId: string): BusinessProfile {
  return {
    vertical: text(data['Vertical']),
    description: text(data['Description']),
    email: text(data['Email']),
    address: text(data['Address']),
    profilePictureUrl: text(data['ProfilePictureUrl']),
    websites: websites(data['Websites']),
    about: text(data['About']),
    requestId: storableString(requestId),
    raw: storableJson(data) as Record<string, unknown>,
  };
}
