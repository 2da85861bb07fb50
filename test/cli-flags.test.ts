/**
 * The command functions take option objects derived from the commander definitions, so a flag renamed
 * in one place and not the other fails `npm run typecheck` (which compiles this file): each
 * `@ts-expect-error` below is itself an error if the line under it ever compiles.
 */
import { Command } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import type { FlagsOf } from '../src/cli-options.js';
import type { importCommand, ImportFlags } from '../src/commands/import.js';
import { importDefinition } from '../src/commands/import.js';
import type { LookupFlags } from '../src/commands/lookup.js';
import { simulatorDefinition } from '../src/commands/simulator.js';
import { workerDefinition } from '../src/commands/worker.js';

/** `import` as it would be with `--space-column` renamed to `--space-col` in the definition only. */
export const renamedImport = () =>
  new Command('import').argument('<file.csv>').option('--space <ID>').option('--space-col <NAME>');

/** Code written against the flag's old name, reading the options the renamed definition parses. */
export function readsOldName(opts: FlagsOf<typeof renamedImport>): string | undefined {
  // @ts-expect-error: the definition no longer has --space-column, so reading it does not compile
  return opts.spaceColumn;
}

/** A caller passing a flag under a name the definition does not have. */
export function passesUnknownFlag(): ImportFlags {
  // @ts-expect-error: `spaceCol` is not a flag of `import`
  return { spaceCol: 'space' };
}

/** `lookup`'s `--space` is a required option: a caller must give it. */
export function omitsRequiredFlag(): LookupFlags {
  // @ts-expect-error: `space` is missing
  return { json: true };
}

/** The option object `importCommand` takes is exactly the one its definition parses. */
type ImportParameter = Parameters<typeof importCommand>[1];
export const sameType: [ImportParameter, ImportFlags] extends [ImportFlags, ImportParameter] ? true : false =
  true;

describe('command definitions', () => {
  it('parse kebab-case flags into the camelCase names the commands read', () => {
    const parsed = importDefinition()
      .exitOverride()
      .parse(['rows.csv', '--space-column', 'space', '--phone-column', 'mobile', '--default-country', 'CN'], {
        from: 'user',
      });
    const opts: ImportFlags = parsed.opts();
    expect(parsed.args).toEqual(['rows.csv']);
    expect(opts).toEqual({
      spaceColumn: 'space',
      phoneColumn: 'mobile',
      defaultCountry: 'CN',
    });
    // A duration flag is parsed into ms by the definition, a bad one refused before anything runs.
    expect(
      importDefinition().exitOverride().parse(['rows.csv', '--max-age', '12h'], { from: 'user' }).opts(),
    ).toEqual({
      maxAge: 12 * 3_600_000,
    });
    expect(() =>
      importDefinition()
        .exitOverride()
        .configureOutput({ writeErr: () => undefined })
        .parse(['rows.csv', '--max-age', 'soon'], { from: 'user' }),
    ).toThrow(/--max-age "soon" is not a duration/);
  });

  it('parse numbers and repeatable flags into typed values with their defaults', () => {
    expect(workerDefinition().exitOverride().parse(['--rate', '2.5'], { from: 'user' }).opts()).toEqual({
      concurrency: 4,
      rate: 2.5,
    });
    const sim = simulatorDefinition()
      .exitOverride()
      .parse(['--fault', 'http503', '--fault', 'hang', '--throttle-form', 'mixed'], { from: 'user' })
      .opts();
    expect(sim).toEqual({
      port: 0,
      host: '127.0.0.1',
      rate: 10,
      throttleForm: 'mixed',
      fault: ['http503', 'hang'],
    });
  });
});
