/** Records what a run keeps of its input file (once the whole input was read), for `export --input`. */
import type { Queryable } from '../pool.js';

/** What a run keeps of the file it was imported from, so `export --input` can read its cells again. */
export interface RunInput {
  /** SHA-256 of the input's bytes, hex. */
  sha256: string;
  /** Absolute path of the file; null for standard input. */
  path: string | null;
  /** The reading options given at import that decide its records and columns. */
  options: InputReadOptions;
}

export interface InputReadOptions {
  delimiter?: string | undefined;
  encoding?: string | undefined;
  phoneColumn?: string | undefined;
  spaceColumn?: string | undefined;
}

export async function recordRunInput(db: Queryable, runId: number, input: RunInput): Promise<void> {
  await db.query('UPDATE runs SET input_sha256 = $2, input_path = $3, input_options = $4 WHERE id = $1', [
    runId,
    input.sha256,
    input.path,
    JSON.stringify(input.options),
  ]);
}
