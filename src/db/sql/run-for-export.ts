/** What `export` needs of a run besides its rows: whether it was pruned, and what it keeps of its input. */
import type { Queryable } from '../pool.js';
import type { InputReadOptions, RunInput } from './record-run-input.js';

export interface RunForExport {
  id: number;
  source: string;
  /** When `prune` deleted its per-row records; null while they are kept. */
  prunedAt: Date | null;
  /** What it keeps of its input file; undefined for a database run or an import that did not read it all. */
  input: RunInput | undefined;
}

export async function runForExport(db: Queryable, runId: number): Promise<RunForExport | undefined> {
  const { rows } = await db.query<{
    id: string;
    source: string;
    pruned_at: Date | null;
    input_sha256: string | null;
    input_path: string | null;
    input_options: InputReadOptions | null;
  }>('SELECT id, source, pruned_at, input_sha256, input_path, input_options FROM runs WHERE id = $1', [
    runId,
  ]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: Number(r.id),
    source: r.source,
    prunedAt: r.pruned_at,
    input:
      r.input_sha256 === null
        ? undefined
        : { sha256: r.input_sha256, path: r.input_path, options: r.input_options ?? {} },
  };
}
