/**
 * A CustSpaceId as cams-enrich accepts it, wherever it comes from (`--space` of every command, a
 * space column, a stored command): trimmed, not empty, at most `MAX_SPACE_LENGTH` characters, no
 * control characters. One rule, so one space never becomes two keys (`S1` and ` S1`).
 */
import { AppError } from './errors.js';

/** Longest CustSpaceId accepted. */
export const MAX_SPACE_LENGTH = 256;
const CONTROL = /\p{Cc}/u;

/** Why `space` cannot be a CustSpaceId, or undefined when it can (it is trimmed first). */
export function spaceProblem(space: string): string | undefined {
  const s = space.trim();
  if (s === '') return 'empty';
  if (s.length > MAX_SPACE_LENGTH) return `longer than ${MAX_SPACE_LENGTH} characters`;
  if (CONTROL.test(s)) return 'contains control characters';
  return undefined;
}

/** The message for a flag whose value is no CustSpaceId, or undefined; `flag` defaults to `--space`. */
export function spaceFlagProblem(value: string, flag = '--space'): string | undefined {
  const problem = spaceProblem(value);
  if (problem === undefined) return undefined;
  if (problem === 'empty') return `${flag} must not be empty`;
  const what = problem.startsWith('longer') ? `is ${problem}` : problem;
  return `${flag} ${what}: a CustSpaceId has at most ${MAX_SPACE_LENGTH} characters and no control characters`;
}

/** `value` trimmed; a usage error (exit 2) when it is no CustSpaceId. */
export function checkSpace(value: string, flag = '--space'): string {
  const problem = spaceFlagProblem(value, flag);
  if (problem !== undefined) throw new AppError('USAGE', problem);
  return value.trim();
}
