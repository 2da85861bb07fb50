/**
 * Importer liveness. A run in state `importing` belongs to the process reading its rows; that process
 * holds a session advisory lock keyed by the run id on a connection of its own for as long as it
 * imports. When the process dies (kill -9, a crash, a lost machine) PostgreSQL ends its session and
 * the lock goes with it, so "importing and nobody holds the lock" means the importer is gone. Workers
 * (periodically) and the `import` and `resume` commands then abort such runs: every row the importer
 * had recorded stays counted, the pending ones failed as `IMPORT_ABORTED`, exactly as an import that
 * stops on bad input.
 */
import type { Logger } from '../log.js';
import type { Pool, PoolClient } from './pool.js';
import { withTransaction } from './pool.js';
import type { NewRun } from './runs.js';
import { abortRunIn, createRun } from './runs.js';

/** First key of the two-key advisory locks that mark live importers (the second is the run id). */
const IMPORT_LOCK_SPACE = `hashtext('cams-enrich:import')`;
/** Run ids become the lock's 32-bit second key. */
const RUN_KEY = `($1::bigint % 2147483647)::int`;

/** Runs younger than this are never judged: their importer is still taking its lock. */
const MIN_AGE_SECONDS = 10;

export interface LiveRun {
  readonly runId: number;
  /** Throws when the liveness mark was lost (its connection died), so the import stops instead of writing into a run that may be aborted. */
  assertAlive(): void;
  /** Gives the mark up (the run is ready or aborted by now). Idempotent. */
  release(): Promise<void>;
}

/** Thrown by `assertAlive` once the importer's lock connection is gone. */
export class LivenessLostError extends Error {
  override readonly name = 'LivenessLostError';
}

/**
 * Creates a run and takes its liveness mark in one transaction, on a connection held until `release`:
 * the run is never visible without its lock.
 */
export async function createLiveRun(pool: Pool, run: NewRun): Promise<LiveRun> {
  const client: PoolClient = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  let runId: number;
  try {
    await client.query('BEGIN');
    runId = await createRun(client, run);
    await client.query(`SELECT pg_advisory_lock(${IMPORT_LOCK_SPACE}, ${RUN_KEY})`, [runId]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(onError);
    client.off('error', onError);
    client.release(lost ?? (err instanceof Error ? err : new Error(String(err))));
    throw err;
  }
  let released = false;
  return {
    runId,
    assertAlive() {
      if (lost) {
        throw new LivenessLostError(
          `run ${runId}: the connection holding the importer's liveness mark was lost (${lost.message}); the import stops`,
        );
      }
    },
    async release() {
      if (released) return;
      released = true;
      if (!lost) {
        await client
          .query(`SELECT pg_advisory_unlock(${IMPORT_LOCK_SPACE}, ${RUN_KEY})`, [runId])
          .catch(onError);
      }
      client.off('error', onError);
      // A connection that lost its session (or its unlock) is closed, never reused with a lock on it.
      client.release(lost);
    },
  };
}

/**
 * Aborts every run still `importing` whose importer is gone (no session holds its mark). Each run is
 * judged and aborted in one transaction holding the mark itself, so an importer can never be judged
 * gone while it runs. Returns the ids of the runs aborted.
 */
export async function abortAbandonedImports(pool: Pool, log: Logger): Promise<number[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM runs WHERE state = 'importing' AND created_at < now() - make_interval(secs => $1)
     ORDER BY id`,
    [MIN_AGE_SECONDS],
  );
  const aborted: number[] = [];
  for (const { id } of rows) {
    const runId = Number(id);
    const done = await withTransaction(pool, async (client) => {
      const { rows: lock } = await client.query<{ free: boolean }>(
        `SELECT pg_try_advisory_xact_lock(${IMPORT_LOCK_SPACE}, ${RUN_KEY}) AS free`,
        [runId],
      );
      if (!lock[0]?.free) return false;
      const { rowCount } = await client.query(
        `SELECT 1 FROM runs WHERE id = $1 AND state = 'importing' FOR UPDATE`,
        [runId],
      );
      if (rowCount === 0) return false;
      await abortRunIn(client, runId, 'the importer stopped before the end of its input');
      return true;
    });
    if (done) {
      aborted.push(runId);
      log.warn(
        { run: runId },
        'aborted a run whose importer is gone; its pending rows are failed as IMPORT_ABORTED',
      );
    }
  }
  return aborted;
}
