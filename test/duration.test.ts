import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/duration.js';
import { AppError } from '../src/errors.js';

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['250ms', 250],
    ['45s', 45_000],
    ['90m', 5_400_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['2w', 1_209_600_000],
    ['1.5h', 5_400_000],
    [' 7d ', 604_800_000],
    ['0', 0],
    ['0d', 0],
  ];
  it.each(cases)('reads %j as %d ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  it.each(['', '30', '5', 'd', '30x', '30 days', '-1d', '1M', '1h30m', 'PT1H', '1e3s'])(
    'refuses %j with a usage error naming the flag and the value',
    (value) => {
      let caught: unknown;
      try {
        parseDuration(value);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AppError);
      expect((caught as AppError).code).toBe('USAGE');
      expect((caught as AppError).message).toContain(`--max-age ${JSON.stringify(value)}`);
    },
  );

  it('names the flag it was given', () => {
    expect(() => parseDuration('soon', '--older-than')).toThrow(/^--older-than "soon" is not a duration/);
  });

  it('refuses a duration too large to count in milliseconds', () => {
    expect(() => parseDuration('99999999999999w')).toThrow(/too large/);
  });
});
