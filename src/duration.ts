import { AppError } from './errors.js';

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

/** `--max-age` when it is not given: a stored profile is fresh for 30 days. */
export const DEFAULT_MAX_AGE = '30d';
/** `DEFAULT_MAX_AGE` in ms. */
export const DEFAULT_MAX_AGE_MS = 30 * UNIT_MS.d;

/** Longest duration accepted: far beyond any useful age, well within PostgreSQL's interval and timestamp range. */
const MAX_DURATION_MS = 5000 * UNIT_MS.w;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/**
 * Parses a duration flag such as `30d`, `12h`, `90m`, `1.5h` or `500ms` into milliseconds.
 * Units: `ms`, `s`, `m` (minutes), `h`, `d`, `w`; lower case only, so `m` cannot be read as months.
 * A bare `0` means zero (for `--max-age`: treat every stored profile as stale, i.e. force a refresh).
 * Throws `AppError('USAGE')` naming the flag and its value on anything else.
 */
export function parseDuration(value: string, flagName = '--max-age'): number {
  const text = value.trim();
  if (text === '0') return 0;
  const match = DURATION.exec(text);
  const amount = match?.[1];
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  if (amount === undefined || unit === undefined) {
    throw new AppError(
      'USAGE',
      `${flagName} ${JSON.stringify(value)} is not a duration: write a number and a unit (ms, s, m, h, d, w), ` +
        `e.g. ${flagName} 30d, or 0 for none`,
    );
  }
  const ms = Math.round(Number(amount) * UNIT_MS[unit]);
  if (!Number.isSafeInteger(ms) || ms > MAX_DURATION_MS) {
    throw new AppError(
      'USAGE',
      `${flagName} ${JSON.stringify(value)} is too large: at most 5000w (about 96 years)`,
    );
  }
  return ms;
}

/** A duration in ms written back in the largest unit that divides it (`604800000` → `1w`, `90000` → `90s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  const units = Object.entries(UNIT_MS).reverse() as Array<[keyof typeof UNIT_MS, number]>;
  for (const [unit, size] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
