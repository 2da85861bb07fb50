/**
 * `--space` is checked the same way by every command that takes it: trimmed, and refused (exit 2)
 * when empty, longer than 256 characters or holding control characters, before anything runs.
 */
import { CommanderError } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import { importDefinition } from '../src/commands/import.js';
import { lookupDefinition } from '../src/commands/lookup.js';
import { usageDefinition } from '../src/commands/usage.js';
import { AppError } from '../src/errors.js';
import { validateDbImport } from '../src/runs/db-import.js';
import { validateImportOptions } from '../src/runs/csv-import.js';
import { enqueueDbDefinition, refreshDefinition } from '../src/runs/requests.js';
import { parseStoredCommand } from '../src/schedules/stored-command.js';
import { checkSpace } from '../src/space.js';
import { assertBuilt, killAll, startCli } from './helpers/processes.js';

const LONG = 'S'.repeat(300);

/** The definitions with `--space`, each with the rest of a valid command line. */
const commands = {
  import: { define: importDefinition, args: ['contacts.csv'] },
  'enqueue-db': { define: enqueueDbDefinition, args: ['--table', 'contacts', '--phone-column', 'phone'] },
  refresh: { define: refreshDefinition, args: ['--older-than', '7d'] },
  lookup: { define: lookupDefinition, args: ['8613800001234'] },
  usage: { define: usageDefinition, args: [] },
} as const;

/** What `--space value` parses to with the command's definition, or the usage error it gives. */
function parseSpace(name: keyof typeof commands, value: string): string {
  const { define, args } = commands[name];
  let errors = '';
  const command = define()
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: (s) => (errors += s) })
    .action(() => undefined);
  try {
    command.parse([...args, '--space', value], { from: 'user' });
  } catch (err) {
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).code).toBe('commander.invalidArgument');
    return `refused: ${errors.trim()}`;
  }
  return (command.opts() as { space?: string }).space ?? '';
}

describe('--space', () => {
  it.each(Object.keys(commands) as (keyof typeof commands)[])('is trimmed and checked by %s', (name) => {
    expect(parseSpace(name, '  S1 ')).toBe('S1');
    expect(parseSpace(name, '   ')).toMatch(/--space must not be empty$/);
    expect(parseSpace(name, LONG)).toMatch(
      /--space is longer than 256 characters: a CustSpaceId has at most 256 characters and no control characters$/,
    );
    expect(parseSpace(name, 'S\u001b[2J1')).toMatch(/--space contains control characters: /);
    expect(parseSpace(name, 'S'.repeat(256))).toBe('S'.repeat(256));
  });

  it('is checked the same way when the options come from code or a stored schedule', () => {
    const usage = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        return (err as AppError).code;
      }
      return 'accepted';
    };
    expect(checkSpace(' S1\t')).toBe('S1');
    expect(usage(() => validateImportOptions({ space: LONG }))).toBe('USAGE');
    expect(usage(() => validateDbImport({ spec: { query: 'SELECT 1' }, space: LONG }))).toBe('USAGE');
    expect(usage(() => validateDbImport({ spec: { query: 'SELECT 1' }, space: 'S1' }))).toBe('accepted');
    expect(usage(() => parseStoredCommand(['refresh', '--older-than', '7d', '--space', LONG]))).toBe('USAGE');
    const stored = parseStoredCommand(['refresh', '--older-than', '7d', '--space', ' S1 ']);
    expect(stored).toMatchObject({ kind: 'refresh', flags: { space: 'S1' } });
  });

  it('refuses a bad value with exit 2 before anything runs (lookup calls nothing)', async () => {
    assertBuilt();
    try {
      // No credentials, Redis or database are needed to refuse it.
      const p = startCli(['lookup', '8613800001234', '--space', LONG], {
        ...process.env,
        REDIS_URL: 'redis://127.0.0.1:1',
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        ALIBABA_CLOUD_ACCESS_KEY_ID: '',
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
      });
      expect((await p.exited).code).toBe(2);
      expect(p.stderr()).toContain('--space is longer than 256 characters');
      expect(p.stdout()).toBe('');
    } finally {
      await killAll();
    }
  });
});
