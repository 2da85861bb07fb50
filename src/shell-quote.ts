/**
 * Arguments written so a POSIX shell reads them back as the same arguments: a word of safe characters
 * as it is, anything else in single quotes (a quote inside as `'\''`), an empty one as `''`.
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (SAFE.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
