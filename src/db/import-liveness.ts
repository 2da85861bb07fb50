/**
 * Importer liveness. A run in state `importing` belongs to the process reading its rows; that process
 * holds a transaction-scoped advisory lock keyed by the run id (its liveness mark) in a transaction it
 * keeps open, on a connection of its own, for as long as it imports. When the process dies (kill -9, a
 * crash, a lost machine) PostgreSQL ends the session, or a transaction pooler ends its server
 * connection's transaction, and the lock goes with it, so "importing and nobody holds the mark" means
 * the importer is gone. Workers (periodically) and the `import` and `resume` commands then abort such
 * runs: every row the importer had recorded stays counted, the pending ones failed as
 * `IMPORT_ABORTED`, exactly as an import that stops on bad input.
 *
 * The mark's transaction writes nothing and holds no snapshot between its statements, so it neither
 * holds back vacuum nor waits for `CREATE INDEX CONCURRENTLY`; it is nudged every `heartbeatMs` so an
 * idle-in-transaction timeout does not end it, and a lost connection is noticed.
 */
import type { Logger } from '../log.js';
import type { Pool, PoolClient } from './pool.js';
import { withTransaction } from './pool.js';
import type { NewRun } from './runs.js';
import { abortRun, createRun } from './runs.js';
import { importingRuns } from './sql/importing-runs.js';
import { lockImportingRun } from './sql/lock-importing-run.js';
import { nextRunId } from './sql/next-run-id.js';
import { takeImportMark } from './sql/take-import-mark.js';
import { tryImportMark } from './sql/try-import-mark.js';

/** Runs younger than this are never judged: their importer is still starting. */
const MIN_AGE_SECONDS = 10;

export interface LiveRun {
  readonly runId: number;
  /** Throws when the liveness mark was lost (its connection died), so the import stops instead of writing into a run that may be aborted. */
  assertAlive(): void;
  /** Gives the mark up (the run is ready or aborted by now). Idempotent. */
  release(): Promise<void>;
}

export interface LiveRunOptions {
  /** How often the mark's connection is nudged, in ms. Default 10000. */
  heartbeatMs?: number;
}

/** Thrown by `assertAlive` once the importer's mark connection is gone. */
export class LivenessLostError extends Error {
  override readonly name = 'LivenessLostError';
}

/**
 * Draws a new run id, takes its liveness mark, then creates the run: the run is never visible without
 * its mark, which is held (on a connection kept until `release`) until `release`.
 */
export async function createLiveRun(pool: Pool, run: NewRun, options: LiveRunOptions = {}): Promise<LiveRun> {
  const client: PoolClient = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  let runId: number;
  try {
    // The id is drawn on its own, so the mark's transaction never holds a transaction id (which would
    // hold back vacuum for the whole import); the run is created once the mark is held.
    runId = await nextRunId(pool);
    await client.query('BEGIN');
    await takeImportMark(client, runId);
    // A statement in the simple protocol replaces the mark's unnamed portal, and with it the snapshot
    // it would hold for as long as the transaction idles (CREATE INDEX CONCURRENTLY waits for that).
    await client.query('SELECT 1');
    await createRun(pool, { ...run, id: runId });
  } catch (err) {
    await client.query('ROLLBACK').catch(onError);
    client.off('error', onError);
    client.release(lost ?? (err instanceof Error ? err : new Error(String(err))));
    throw err;
  }
  let beat: Promise<unknown> = Promise.resolve();
  const heartbeat = setInterval(() => {
    beat = client.query('SELECT 1').catch(onError);
  }, options.heartbeatMs ?? 10_000);
  heartbeat.unref();
  let released: Promise<void> | undefined;
  return {
    runId,
    assertAlive() {
      if (lost) {
        throw new LivenessLostError(
          `run ${runId}: the connection holding the importer's liveness mark was lost (${lost.message}); the import stops`,
        );
      }
    },
    release() {
      released ??= (async () => {
        clearInterval(heartbeat);
        await beat;
        // Ending the transaction gives the mark up.
        if (!lost) await client.query('COMMIT').catch(onError);
        client.off('error', onError);
        // A connection that lost its session (or its commit) is closed, never reused with a lock on it.
        client.release(lost);
      })();
      return released;
    },
  };
}

/**
 * Aborts every run still `importing` whose importer is gone (no one holds its mark). Each run is
 * judged and aborted in one transaction holding the mark itself, so an importer can never be judged
 * gone while it runs. Returns the ids of the runs aborted.
 */
export async function abortAbandonedImports(pool: Pool, log: Logger): Promise<number[]> {
  const aborted: number[] = [];
  for (const runId of await importingRuns(pool, MIN_AGE_SECONDS)) {
    const done = await withTransaction(pool, async (client) => {
      if (!(await tryImportMark(client, runId))) return false;
      if (!(await lockImportingRun(client, runId))) return false;
      await abortRun(client, runId, 'the importer stopped before the end of its input');
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
