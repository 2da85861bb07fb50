/**
 * The README is the contract: no source file or document points at a contract document that is not
 * in the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('documents', () => {
  it('refer to the README, not to a contract document the repository does not hold', () => {
    const texts = [
      ...['src', 'workers', 'bench', 'docs', 'migrations'].flatMap((d) => files(join(ROOT, d))),
      join(ROOT, 'README.md'),
    ];
    const stale = texts
      .filter((f) => readFileSync(f, 'utf8').includes('CONTRACT.md'))
      .map((f) => relative(ROOT, f));
    expect(stale).toEqual([]);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('This README is the contract');
  });
});
