/**
 * The code's layers, read from the import statements of `src/`, `workers/` and `bench/` (static,
 * type-only, re-exports and dynamic `import()` alike): every import points down or sideways within
 * its layer, and no module reaches itself again through its imports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Lowest first; a module may import its own layer and those below. A module is placed by the rule
 * naming its file, else by the folder rule that starts its path (from the repository root); a file
 * right under `src/` that no rule names is a foundation (config, errors, log, small helpers).
 */
const LAYERS: { name: string; paths: string[] }[] = [
  { name: 'foundations', paths: [] },
  {
    name: 'boundaries',
    paths: [
      'src/cams/',
      'src/sources/',
      'src/db/',
      'src/queue/',
      'src/metrics/',
      'src/simulator/',
      'src/embedded/',
    ],
  },
  {
    name: 'runs',
    paths: [
      'src/runs/',
      'src/schedules/',
      'src/dashboard/',
      'src/connections.ts',
      'src/database-connection.ts',
    ],
  },
  { name: 'workers', paths: ['workers/'] },
  { name: 'commands', paths: ['src/commands/'] },
  { name: 'cli', paths: ['src/cli/'] },
  { name: 'bench', paths: ['bench/'] },
];

function layerOf(path: string): number {
  const named = LAYERS.findIndex((layer) => layer.paths.includes(path));
  if (named >= 0) return named;
  const folder = LAYERS.findIndex((layer) => layer.paths.some((p) => p.endsWith('/') && path.startsWith(p)));
  if (folder >= 0) return folder;
  return /^src\/[^/]+\.ts$/.test(path) ? 0 : -1;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Each module's imports of the project's own modules, as paths from the repository root. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of ['src', 'workers', 'bench'].flatMap(sources)) {
    const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
    const imports = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(ROOT, resolve(ROOT, dirname(file), name)).replace(/\.js$/, '.ts'));
    graph.set(file, [...new Set(imports)]);
  }
  return graph;
}

/** Every cycle, each once, as the list of modules around it (Tarjan's strongly connected components). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the layers of the code', () => {
  const graph = importGraph();

  it('reads the imports of every module', () => {
    expect(graph.get('src/cli/main.ts')).toContain('src/commands/context.ts');
    expect(graph.get('src/cli/main.ts')).toContain('src/commands/migrate.ts'); // a dynamic import()
    expect(graph.size).toBeGreaterThan(50);
  });

  it('places every module in a layer', () => {
    expect([...graph.keys()].filter((file) => layerOf(file) < 0)).toEqual([]);
  });

  it('has no import that points up', () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        if (!graph.has(target)) continue;
        if (layerOf(target) > layerOf(file)) {
          upward.push(
            `${file} (${LAYERS[layerOf(file)]!.name}) imports ${target} (${LAYERS[layerOf(target)]!.name})`,
          );
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle and an upward import when there is one', () => {
    const bad = new Map([
      ['src/db/a.ts', ['src/db/b.ts']],
      ['src/db/b.ts', ['src/db/a.ts', 'src/runs/c.ts']],
      ['src/runs/c.ts', []],
    ]);
    expect(cycles(bad)).toEqual([['src/db/a.ts', 'src/db/b.ts']]);
    expect(layerOf('src/runs/c.ts')).toBeGreaterThan(layerOf('src/db/b.ts'));
  });
});
