/**
 * The flags docs/contract.md writes for each command are the program's: every command and subcommand
 * the built CLI lists is documented, each flag its `--help` prints is written in its line of the
 * contract, and each flag written there exists. Read from the program's own `--help`, so a flag added,
 * renamed or removed without the docs (or the other way round) fails here.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from './helpers/processes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'dist', 'src', 'cli', 'bin.js');

beforeAll(assertBuilt);

async function help(path: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, ...path, '--help'], {
    env: { ...process.env, COLUMNS: '200' },
  });
  return stdout;
}

/** The lines of a help section (`Options:`, `Commands:`), up to the next blank line. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(title);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The subcommands a help lists (without commander's own `help`). */
const commandsOf = (text: string) =>
  section(text, 'Commands:')
    .map((l) => /^ {2}([a-z][a-z-]*)\b/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== 'help');

/** The long flags a help lists (without `--help` and `--version`). */
const flagsOf = (text: string) =>
  section(text, 'Options:')
    .map((l) => /^ {2}(?:-\w, )?(--[a-z0-9-]+)/.exec(l)?.[1])
    .filter((f): f is string => f !== undefined && f !== '--help' && f !== '--version');

/**
 * Each command's documented flags, from the "Commands" list of docs/contract.md: every span in
 * backticks of a bullet whose first word is one of the program's commands is a signature
 * (`name [--flag VALUE] …`; its second word a subcommand when the command has some), whether it opens
 * the bullet or stands in its text. What follows ` -- ` is another command's line (a schedule's stored
 * command) and is not read.
 */
function documented(commands: string[], subcommands: Map<string, string[]>): Map<string, Set<string>> {
  const text = readFileSync(join(ROOT, 'docs', 'contract.md'), 'utf8');
  const list = text.slice(text.indexOf('## Commands'), text.indexOf('## Exit codes'));
  const bullets = list.split(/\n- /).slice(1);
  const flags = new Map<string, Set<string>>();
  for (const bullet of bullets) {
    for (const [, span] of bullet.replace(/\n/g, ' ').matchAll(/`([^`]+)`/g)) {
      const signature = span!.split(' -- ')[0]!;
      const words = signature.split(/\s+/);
      const command = words[0]!;
      if (!commands.includes(command)) continue;
      const subs = subcommands.get(command);
      if (subs && !subs.includes(words[1] ?? '')) continue;
      const path = subs ? `${command} ${words[1]}` : command;
      const set = flags.get(path) ?? new Set<string>();
      for (const [flag] of signature.matchAll(/--[a-z0-9-]+/g)) set.add(flag);
      flags.set(path, set);
    }
  }
  return flags;
}

describe('the contract’s command list', () => {
  it('names every command and subcommand with exactly the flags its --help prints', async () => {
    const commands = commandsOf(await help([]));
    expect(commands).toContain('import');
    const subcommands = new Map<string, string[]>();
    const program = new Map<string, string[]>();
    await Promise.all(
      commands.map(async (command) => {
        const text = await help([command]);
        const subs = commandsOf(text);
        if (subs.length === 0) {
          program.set(command, flagsOf(text));
          return;
        }
        subcommands.set(command, subs);
        for (const sub of subs) program.set(`${command} ${sub}`, flagsOf(await help([command, sub])));
      }),
    );
    const docs = documented(commands, subcommands);
    const mismatches: string[] = [];
    for (const [path, flags] of [...program].sort()) {
      const written = docs.get(path);
      if (!written) {
        mismatches.push(`${path}: not in docs/contract.md`);
        continue;
      }
      for (const f of flags) if (!written.has(f)) mismatches.push(`${path}: ${f} is not documented`);
      for (const f of written)
        if (!flags.includes(f)) mismatches.push(`${path}: ${f} is documented, not a flag`);
    }
    for (const path of docs.keys())
      if (!program.has(path)) mismatches.push(`${path}: documented, not a command`);
    expect(mismatches).toEqual([]);
  }, 120_000);
});
