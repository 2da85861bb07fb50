/** What a run was started with, for its page: its space, input file and reading options, the freshness limit. */
import type { Queryable } from '../pool.js';

export interface RunOptions {
  space: string | null;
  inputPath: string | null;
  inputSha256: string | null;
  inputOptions: Record<string, unknown> | null;
  maxAgeSeconds: number;
}

export async function runOptions(db: Queryable, runId: number): Promise<RunOptions | undefined> {
  const { rows } = await db.query<{
    space: string | null;
    input_path: string | null;
    input_sha256: string | null;
    input_options: Record<string, unknown> | null;
    max_age_seconds: number;
  }>(
    `SELECT space, input_path, input_sha256, input_options, extract(epoch FROM max_age)::float8 AS max_age_seconds
     FROM runs WHERE id = $1`,
    [runId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    space: r.space,
    inputPath: r.input_path,
    inputSha256: r.input_sha256,
    inputOptions: r.input_options,
    maxAgeSeconds: r.max_age_seconds,
  };
}
