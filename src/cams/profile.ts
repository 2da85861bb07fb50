/**
 * The `Data` object of a QueryPhoneBusinessProfile answer, turned into the shape we store
 * (CONTRACT.md, `business_profiles`): text trimmed, empty text as null, `raw` kept as received.
 */

/** A business profile as stored: text fields trimmed (the API pads some with "\n"); raw keeps the API's Data object as received. */
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

/** A trimmed string, or null when the value is missing, not a string, or blank. */
function text(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

function websites(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const item of value) {
    const site = text(item);
    if (site !== null) out.push(site);
  }
  return out;
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
    requestId,
    raw: data,
  };
}
