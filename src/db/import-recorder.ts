/**
 * Records an import's rows in chunks: each chunk is copied into a staging table (COPY, one round trip)
 * and merged into the ledger by one set-based statement, in one transaction, on connections held for
 * the whole import. A chunk is merged while the next one is read: `record` waits only for the previous
 * chunk, so reading and PostgreSQL's work overlap, and at most two chunks are held in memory.
 *
 * The rows are split over `lanes` connections by phone number, so PostgreSQL merges the lanes in
 * parallel while every occurrence of a number goes through the same lane, in file order: the first line
 * of a number stays the one recorded and later ones count as duplicates, exactly as with one lane.
 */
import { AppError } from '../errors.js';
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
  /** Waits until every chunk is committed (rejects if one failed), then releases the connections. Idempotent. */
  close(): Promise<void>;
}

export interface ImportRecorderOptions {
  /**
   * Connections merging in parallel. Default 2, or 1 when the pool has room for no more than that
   * beside the importer's liveness connection (a smaller pool would wait for itself).
   */
  lanes?: number;
}

interface Lane {
  client: PoolClient;
  inFlight: Promise<void>;
}

export async function openImportRecorder(
  pool: Pool,
  runId: number,
  options: ImportRecorderOptions = {},
): Promise<ImportRecorder> {
  let failure: unknown;
  const onError = (err: Error) => {
    failure ??= err;
  };
  const lanes: Lane[] = [];
  const release = () => {
    for (const lane of lanes) {
      lane.client.removeListener('error', onError);
      lane.client.release(failure instanceof Error ? failure : undefined);
    }
  };
  try {
    const room = (pool.options.max ?? 10) - 1;
    for (let i = 0; i < Math.max(1, options.lanes ?? Math.min(2, room)); i++) {
      const client = await pool.connect();
      client.on('error', onError);
      lanes.push({ client, inFlight: Promise.resolve() });
    }
  } catch (err) {
    failure ??= err;
    release();
    throw err;
  }
  let closing: Promise<void> | undefined;

  async function write(
    c: PoolClient,
    accepted: readonly AcceptedRow[],
    rejected: readonly RejectedRow[],
  ): Promise<void> {
    await c.query('BEGIN');
    try {
      await createStagingTable(c);
      await stageImportRows(c, accepted, rejected);
      if (!(await mergeImportRows(c, { runId, accepted: accepted.length, rejected: rejected.length })))
        throw new AppError('RUN_CANCELLED', `run ${runId} was cancelled: the import stops`);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** The lane of a number: a function of the number alone, so its occurrences share one lane. */
  const laneOf = (phone: string) => phone.charCodeAt(phone.length - 1) % lanes.length;

  const settled = () => Promise.all(lanes.map((l) => l.inFlight));

  return {
    async record(accepted, rejected) {
      if (closing) throw new Error('the import recorder is closed');
      await settled();
      if (failure !== undefined) throw failure;
      const parts = lanes.map(() => ({
        accepted: [] as AcceptedRow[],
        rejected: [] as readonly RejectedRow[],
      }));
      for (const row of accepted) parts[laneOf(row.phoneNumber)]!.accepted.push(row);
      // Rejects have no number to keep together: they go with the first lane.
      parts[0]!.rejected = rejected;
      lanes.forEach((lane, i) => {
        const part = parts[i]!;
        if (part.accepted.length === 0 && part.rejected.length === 0) return;
        lane.inFlight = write(lane.client, part.accepted, part.rejected).catch((err: unknown) => {
          failure ??= err;
        });
      });
    },
    close() {
      closing ??= (async () => {
        await settled();
        release();
        if (failure !== undefined) throw failure;
      })();
      return closing;
    },
  };
}
