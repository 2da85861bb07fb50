/**
 * Records an import's rows in chunks: each chunk is copied into a staging table (COPY, one round trip)
 * and merged into the ledger by one set-based statement, in one transaction, on a connection held for
 * the whole import. A chunk is merged while the next one is read: `record` waits only for the previous
 * chunk, so reading and PostgreSQL's work overlap, and at most two chunks are held in memory.
 */
import type { Pool, PoolClient } from './pool.js';
import type { AcceptedRow, RejectedRow } from './runs.js';
import { mergeImportRows } from './sql/merge-import-rows.js';
import { createStagingTable, stageImportRows } from './sql/stage-import-rows.js';

export interface ImportRecorder {
  /**
   * Starts recording a chunk (the arrays are the recorder's from now on). Resolves once the previous
   * chunk is committed; rejects with the error of a chunk that failed.
   */
  record(accepted: readonly AcceptedRow[], rejected: readonly RejectedRow[]): Promise<void>;
  /** Waits until every chunk is committed (rejects if one failed), then releases the connection. Idempotent. */
  close(): Promise<void>;
}

export async function openImportRecorder(pool: Pool, runId: number): Promise<ImportRecorder> {
  const client = await pool.connect();
  let failure: unknown;
  const onError = (err: Error) => {
    failure ??= err;
  };
  client.on('error', onError);
  try {
    await createStagingTable(client);
  } catch (err) {
    client.removeListener('error', onError);
    client.release(err as Error);
    throw err;
  }
  let inFlight: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;

  async function write(
    c: PoolClient,
    accepted: readonly AcceptedRow[],
    rejected: readonly RejectedRow[],
  ): Promise<void> {
    await c.query('BEGIN');
    try {
      await stageImportRows(c, accepted, rejected);
      await mergeImportRows(c, { runId, accepted: accepted.length, rejected: rejected.length });
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  return {
    async record(accepted, rejected) {
      if (closing) throw new Error('the import recorder is closed');
      await inFlight;
      if (failure !== undefined) throw failure;
      if (accepted.length === 0 && rejected.length === 0) return;
      inFlight = write(client, accepted, rejected).catch((err: unknown) => {
        failure ??= err;
      });
    },
    close() {
      closing ??= (async () => {
        await inFlight;
        client.removeListener('error', onError);
        client.release(failure instanceof Error ? failure : undefined);
        if (failure !== undefined) throw failure;
      })();
      return closing;
    },
  };
}
