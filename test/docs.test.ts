/**
 * The README and the files under docs/ are the contract: no source file or document points at a
 * contract document that is not in the repository, the README stays a front page, and every link
 * between the documents reaches a file and a heading that exist.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** The documents: the README, BENCHMARKS.md and every Markdown file under docs/. */
function documents(): string[] {
  return [
    join(ROOT, 'README.md'),
    join(ROOT, 'BENCHMARKS.md'),
    ...files(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')),
  ];
}

/** The text outside fenced code blocks, where headings and links are. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Set<string>();
  for (const [, text] of prose(markdown).matchAll(/^#{1,6} +(.+)$/gm)) {
    const base = text!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    let anchor = base;
    for (let n = 1; seen.has(anchor); n++) anchor = `${base}-${n}`;
    seen.add(anchor);
  }
  return seen;
}

describe('documents', () => {
  it('refer to the README and docs/, not to a contract document the repository does not hold', () => {
    const texts = [
      ...['src', 'workers', 'bench', 'docs', 'migrations'].flatMap((d) => files(join(ROOT, d))),
      join(ROOT, 'README.md'),
    ];
    const stale = texts
      .filter((f) => readFileSync(f, 'utf8').includes('CONTRACT.md'))
      .map((f) => relative(ROOT, f));
    expect(stale).toEqual([]);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(
      'This README and the files under [`docs/`](#documentation) are the contract',
    );
  });

  it('keep the README a front page of at most 250 lines', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(250);
  });

  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const doc of documents()) {
      const text = prose(readFileSync(doc, 'utf8'));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const file = path ? resolve(dirname(doc), path) : doc;
        if (!existsSync(file)) {
          broken.push(`${relative(ROOT, doc)}: ${target} (no such file)`);
        } else if (anchor !== undefined && !anchors(readFileSync(file, 'utf8')).has(anchor)) {
          broken.push(`${relative(ROOT, doc)}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('link every file under docs/ from the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const unlinked = files(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => relative(ROOT, f))
      .filter((f) => !readme.includes(`](${f})`));
    expect(unlinked).toEqual([]);
  });
});
