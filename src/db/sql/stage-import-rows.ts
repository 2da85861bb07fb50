/**
 * The staging table of an import: temporary (private to the session, never WAL-logged), created in the
 * transaction that uses it and dropped at its end, filled by COPY. Each chunk is staged and merged
 * (`merge-import-rows.ts`) in one transaction, so the table never outlives it: through a transaction
 * pooler the next transaction may run on another server connection.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from '../pool.js';
import type { AcceptedRow, RejectedRow } from '../runs.js';

export const STAGING_TABLE = 'cams_import_rows';

/** Creates the staging table inside the caller's transaction; it is dropped when the transaction ends. */
export async function createStagingTable(client: PoolClient): Promise<void> {
  await client.query(
    `CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGING_TABLE} (
       line bigint NOT NULL, cust_space_id text, phone_number text, raw text, reason text
     ) ON COMMIT DROP`,
  );
}

/** COPY's text format: backslash, tab, newline and carriage return escaped; `\N` is NULL. */
const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function field(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPED[c]!) : value;
}

/** Rows per piece written to the COPY stream, so a chunk is never one huge string. */
const PIECE_ROWS = 2000;

function* piecesOf<T>(rows: readonly T[], line: (row: T) => string): Generator<string> {
  for (let start = 0; start < rows.length; start += PIECE_ROWS) {
    let text = '';
    for (let i = start; i < Math.min(rows.length, start + PIECE_ROWS); i++) text += line(rows[i]!);
    yield text;
  }
}

function* pieces(accepted: readonly AcceptedRow[], rejected: readonly RejectedRow[]): Generator<string> {
  yield* piecesOf(accepted, (r) => `${r.line}\t${field(r.custSpaceId)}\t${field(r.phoneNumber)}\t\\N\t\\N\n`);
  yield* piecesOf(rejected, (r) => `${r.line}\t\\N\t\\N\t${field(r.raw)}\t${field(r.reason)}\n`);
}

/** Copies the rows into the staging table (inside the caller's transaction). */
export async function stageImportRows(
  client: PoolClient,
  accepted: readonly AcceptedRow[],
  rejected: readonly RejectedRow[],
): Promise<void> {
  const copy = client.query(
    copyFrom(`COPY ${STAGING_TABLE} (line, cust_space_id, phone_number, raw, reason) FROM STDIN`),
  );
  await pipeline(Readable.from(pieces(accepted, rejected)), copy);
}
