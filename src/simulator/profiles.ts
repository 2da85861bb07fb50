/**
 * Made-up WhatsApp business profiles, one per phone number, always the same for the same number.
 * Shaped like the `Data` of the reference sample answer, including the newline the API appends to
 * `Vertical`, `Description` and `Address`.
 */
import { createHash } from 'node:crypto';

export interface SimulatedProfile {
  Vertical: string;
  Description: string;
  Email: string;
  Address: string;
  ProfilePictureUrl: string;
  Websites: string[];
  About: string;
}

const VERTICALS = [
  'Retail',
  'Restaurant',
  'Professional Services',
  'Education',
  'Health',
  'Travel',
  'Automotive',
  'Finance',
  'Beauty, Spa and Salon',
  'Hotel',
  'Event Planning and Service',
  'Other',
] as const;

const NAMES = [
  'Lotus',
  'Harbor',
  'Jade',
  'Summit',
  'Maple',
  'Coral',
  'Golden Gate',
  'Bamboo',
  'Orchid',
  'Pioneer',
];
const NOUNS = [
  'Trading',
  'Studio',
  'Kitchen',
  'Clinic',
  'Academy',
  'Travel',
  'Motors',
  'Partners',
  'House',
  'Works',
];
const CITIES = [
  'Changsha',
  'Hangzhou',
  'Singapore',
  'Jakarta',
  'Kuala Lumpur',
  'Sao Paulo',
  'Mexico City',
  'Dubai',
  'Mumbai',
  'Madrid',
];
const STREETS = [
  'Market Street',
  'Harbour Road',
  'Station Avenue',
  'Garden Lane',
  'Riverside Drive',
  'Hill Road',
];
const ABOUTS = [
  'business profile',
  'Available',
  'Hey there! I am using WhatsApp.',
  'Open 9:00-18:00, Monday to Saturday',
  'Replies within one hour',
];

/** 32 bytes that depend only on the number, read as small integers. */
function digest(phoneNumber: string): Buffer {
  return createHash('sha256').update(`cams-simulator:${phoneNumber}`).digest();
}

function pick<T>(list: readonly T[], byte: number | undefined): T {
  const item = list[(byte ?? 0) % list.length];
  if (item === undefined) throw new Error('empty list');
  return item;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** The profile the simulator answers for `phoneNumber`. */
export function profileFor(phoneNumber: string): SimulatedProfile {
  const h = digest(phoneNumber);
  const vertical = pick(VERTICALS, h[0]);
  const name = `${pick(NAMES, h[1])} ${pick(NOUNS, h[2])}`;
  const city = pick(CITIES, h[3]);
  const domain = `${slug(name)}-${h.subarray(4, 6).toString('hex')}.example.com`;
  const websites = [`https://${domain}`];
  if ((h[6] ?? 0) % 3 === 0) websites.push(`https://shop.${domain}/${phoneNumber.slice(-4)}`);
  return {
    Vertical: `${vertical}\n`,
    Description: `${name}: ${vertical.toLowerCase()} in ${city}\n`,
    Email: `contact@${domain}`,
    Address: `${((h[7] ?? 0) % 200) + 1} ${pick(STREETS, h[8])}, ${city}\n`,
    ProfilePictureUrl: `https://img.example.com/profile/${h.subarray(9, 17).toString('hex')}.jpg`,
    Websites: websites,
    About: pick(ABOUTS, h[17]),
  };
}
