/**
 * What the commands' definitions share: the type of the option object a command function takes, and
 * the parsers of flag values that more than one command uses (commander's `argParser`: a bad value is
 * a usage error, exit 2, before anything runs).
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { parseGrace } from './config.js';
import { parseDuration } from './duration.js';
import { isAppError } from './errors.js';
import { spaceFlagProblem } from './space.js';

type Definition = () => { opts(): object };
/** The option values commander parses for the command a definition function builds. */
type Parsed<Define extends Definition> = ReturnType<ReturnType<Define>['opts']>;
/**
 * The option object a command function takes: the parsed values of its definition, each optional
 * for in-process callers (tests, the demo) except the `Needed` ones, which the command relies on.
 */
export type FlagsOf<Define extends Definition, Needed extends keyof Parsed<Define> = never> = Partial<
  Parsed<Define>
> &
  Pick<Parsed<Define>, Needed>;

/** A whole number from `min` to `max`, written in plain digits (not `1e3`, not `0x10`). */
export function intArg(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = /^\d{1,15}$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** A number above 0 and at most `max`. */
export function positiveArg(name: string, max: number) {
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`${name} must be a number above 0 and at most ${max}`);
    }
    return n;
  };
}

/** A run id such as `12`: a whole number above 0. */
export function runIdArg(value: string): number {
  const id = /^\s*\d{1,15}\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new InvalidArgumentError(`--run must be a run id such as 12 (got '${value}')`);
  }
  return id;
}

/** Commander's parser of a flag read by `parse(value, name)`, whose `AppError` becomes a usage error. */
function flagParser<T>(name: string, parse: (value: string, name: string) => T) {
  return (value: string): T => {
    try {
      return parse(value, name);
    } catch (err) {
      throw isAppError(err) ? new InvalidArgumentError(err.message) : err;
    }
  };
}

/** A shutdown grace period in ms, read as `CAMS_SHUTDOWN_GRACE` is (`parseGrace`: a duration of at most an hour). */
export const graceArg = (name: string) => flagParser(name, parseGrace);

/**
 * A duration flag (`--max-age`, `--older-than`, `--since`) in ms, read by `parseDuration` (`30d`, `12h`,
 * `1.5h`, `0`): a bad value is a usage error naming the flag before anything runs.
 */
export const durationArg = (name: string) => flagParser(name, parseDuration);

/** `high`, `normal` or `low`: a run's priority (`--priority`, `priority RUN LEVEL`). */
export function priorityArg(value: string): 'high' | 'normal' | 'low' {
  const v = value.trim().toLowerCase();
  if (v !== 'high' && v !== 'normal' && v !== 'low')
    throw new InvalidArgumentError(`the priority must be high, normal or low (got '${value}')`);
  return v;
}

/** The help of `--priority`, with the command's default. */
export function priorityHelp(defaultLevel: string): string {
  return `high, normal or low: runs of a higher priority are called first, runs of one priority take turns (default: ${defaultLevel})`;
}

/** The help of `--profile`, taken by the commands that call CAMS. */
export const PROFILE_HELP =
  'credentials from this profile of ~/.aliyun/config.json or ~/.alibabacloud/credentials only (default: the credential chain)';

/**
 * `--space`, the same on every command: the CustSpaceId trimmed; empty, over 256 characters or with
 * control characters it is a usage error.
 */
export function spaceArg(value: string): string {
  const problem = spaceFlagProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value.trim();
}
