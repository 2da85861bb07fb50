/**
 * Phone numbers are masked where they are phone numbers, in one place: a known phone field
 * (`maskPhone`), or text that may echo the number being processed (`maskPhonesIn`). Other digit
 * runs are left whole: a RequestId such as `…-1563076C3F46` is what a user quotes to Alibaba Cloud
 * support, and a CustSpaceId or a count is not personal data.
 */

/** `8613800001234` → `8613*******34`: enough to tell numbers apart in a log, not enough to dial. */
export function maskPhone(phone: string): string {
  if (phone.length <= 6) return '*'.repeat(phone.length);
  return phone.slice(0, 4) + '*'.repeat(phone.length - 6) + phone.slice(-2);
}

/**
 * A digit run (spaces, dots, dashes and brackets allowed inside, `+` in front) that text labels as
 * a phone number: `PhoneNumber 8613800001234`, `phone: +86 138 0000 1234`, `mobile=…`, `tel …`.
 */
const LABELLED_PHONE = /((?:phone[\s_-]?(?:number)?|mobile|msisdn|tel)\b\W{0,3})(\+?\d[\d\s().-]{5,}\d)/gi;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Masks, in free text (an upstream error message), every occurrence of the given numbers (digits
 * only, country code first; also found with a leading `+` or `00`) and every digit run labelled as a
 * phone number. Digit runs that are neither stay as they are.
 */
export function maskPhonesIn(text: string, phones: readonly string[] = []): string {
  let out = text;
  for (const phone of phones) {
    if (!/^\d{5,}$/.test(phone)) continue;
    // Not inside a longer digit run: a number that happens to be part of an id stays whole.
    const pattern = new RegExp(`(?<!\\d)(?:\\+|00)?${escapeRegExp(phone)}(?!\\d)`, 'g');
    out = out.replace(pattern, (m) => m.slice(0, m.length - phone.length) + maskPhone(phone));
  }
  return out.replace(LABELLED_PHONE, (_m, label: string, value: string) => {
    const digits = value.replace(/\D/g, '');
    return digits.length >= 7 ? label + maskPhone(digits) : label + value;
  });
}
