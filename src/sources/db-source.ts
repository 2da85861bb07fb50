/**
 * The database source: streams the phone (and optional space) of every row of a PostgreSQL table or
 * query through a server-side cursor, inside a READ ONLY transaction on a client of its own, so memory
 * stays flat whatever the table's size and the operator's SQL cannot change the source database.
 */
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { AppError } from '../errors.js';

/** A table (or view) with its phone column, and either a per-row space column or none. */
export interface DbTableSpec {
  /** `table` or `schema.table`; each part is quoted as an identifier. */
  table: string;
  phoneColumn: string;
  /** Column holding each row's CustSpaceId. Default: none (the run's `--space` applies). */
  spaceColumn?: string | undefined;
  /** The operator's own filter, run read-only: `WHERE (<where>)`. Default: every row. */
  where?: string | undefined;
}

/** The operator's own SELECT, returning `phone_number` and optionally `cust_space_id`. */
export interface DbQuerySpec {
  query: string;
}

export type DbSourceSpec = DbTableSpec | DbQuerySpec;

/** One row of the source: its 1-based row number, the phone as stored, and the space when there is one. */
export interface DbRow {
  line: number;
  phone: string;
  space?: string;
}

export interface DbReadOptions {
  /** Rows fetched from the cursor per round trip. Default 1000. */
  batchSize?: number | undefined;
  /**
   * Whether one CustSpaceId is given for every row (`--space`). A `--query` must then not return
   * `cust_space_id`, and without it must. Default false.
   */
  spaceGiven?: boolean | undefined;
}

/** The run's `source` for a spec: `db:<table>` or `db:query`. */
export function dbSourceName(spec: DbSourceSpec): string {
  return 'query' in spec ? 'db:query' : `db:${spec.table}`;
}

/**
 * `schema.table` or `table` quoted as identifiers. A part may itself be written in double quotes to
 * hold a dot (`"my.schema".contacts`). Anything else is refused rather than guessed.
 */
export function quoteTableName(name: string): string {
  const parts: string[] = [];
  const part = /\s*(?:"((?:[^"]|"")+)"|([^".]+))\s*(\.|$)/y;
  let at = 0;
  while (at < name.length) {
    part.lastIndex = at;
    const m = part.exec(name);
    if (!m) break;
    parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.trim());
    at = part.lastIndex;
    if (m[3] === '') break;
  }
  if (at < name.length || parts.length < 1 || parts.length > 2 || parts.some((p) => p === '')) {
    throw new AppError(
      'USAGE',
      `--table ${JSON.stringify(name)} is not a table name: write table or schema.table`,
    );
  }
  return parts.map((p) => pg.escapeIdentifier(p)).join('.');
}

/** An identifier given by flag, quoted; empty names are refused. */
function quoteColumn(name: string, flag: string): string {
  if (name.trim() === '') throw new AppError('USAGE', `${flag} must not be empty`);
  return pg.escapeIdentifier(name);
}

/** The operator's query without a trailing `;`, so it can stand as a subquery. */
function bareQuery(query: string): string {
  const text = query.trim().replace(/;\s*$/, '');
  if (text === '') throw new AppError('USAGE', '--query must not be empty');
  return text;
}

/** The SELECT the source streams, with `phone` and (when there is one) `space` as text. */
export function sourceSelect(spec: DbSourceSpec, hasSpaceColumn: boolean): string {
  if ('query' in spec) {
    const space = hasSpaceColumn ? ', cust_space_id::text AS space' : '';
    return `SELECT phone_number::text AS phone${space} FROM (${bareQuery(spec.query)}) AS source`;
  }
  const phone = quoteColumn(spec.phoneColumn, '--phone-column');
  const space =
    spec.spaceColumn !== undefined
      ? `, ${quoteColumn(spec.spaceColumn, '--space-column')}::text AS space`
      : '';
  const where = spec.where !== undefined && spec.where.trim() !== '' ? ` WHERE (${spec.where})` : '';
  return `SELECT ${phone}::text AS phone${space} FROM ${quoteTableName(spec.table)}${where}`;
}

/**
 * Reads the rows of a table or query through `client` (connected, used by nothing else meanwhile).
 * Opens a READ ONLY transaction and ends it (rolled back: nothing was written) when the loop ends or
 * breaks. A `--query` is first described (`LIMIT 0`) to check it returns `phone_number`, and
 * `cust_space_id` exactly when no `--space` is given.
 *
 * Throws (from the iterator) `AppError('DB_SOURCE')` naming the table, column or query PostgreSQL
 * refused, and `AppError('USAGE')` for names that are not identifiers.
 */
export async function* readDbRows(
  client: pg.ClientBase,
  spec: DbSourceSpec,
  options: DbReadOptions = {},
): AsyncIterable<DbRow> {
  let hasSpace = 'query' in spec ? false : spec.spaceColumn !== undefined;
  const text = sourceSelect(spec, hasSpace); // refuses bad names before touching the database
  await client.query('BEGIN TRANSACTION READ ONLY');
  // A streaming read waits for its consumer between batches: the pool's idle-in-transaction timeout
  // must not end it.
  await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
  try {
    let select = text;
    if ('query' in spec) {
      const probe = await client
        .query(`SELECT * FROM (${bareQuery(spec.query)}) AS source LIMIT 0`)
        .catch((err: unknown) => {
          throw sourceError(err, spec);
        });
      const names = probe.fields.map((f) => f.name);
      if (!names.includes('phone_number')) {
        throw new AppError(
          'DB_SOURCE',
          `--query must return a column named phone_number (it returns ${names.map((n) => JSON.stringify(n)).join(', ') || 'no columns'})`,
        );
      }
      hasSpace = names.includes('cust_space_id');
      if (hasSpace === Boolean(options.spaceGiven)) {
        throw new AppError(
          'DB_SOURCE',
          hasSpace
            ? '--query returns cust_space_id and --space is given too: use one of them'
            : '--query returns no cust_space_id column: return one, or give --space ID',
        );
      }
      select = sourceSelect(spec, hasSpace);
    }
    yield* streamRows(client, select, [], spec, options.batchSize ?? 1000);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

/**
 * Streams `text` through a cursor on `client` (already in a transaction), numbering rows from 1.
 * Used by the table/query source and by other read-only sources of numbers (refresh).
 */
export async function* streamRows(
  client: pg.ClientBase,
  text: string,
  values: unknown[],
  spec: DbSourceSpec | { label: string },
  batchSize = 1000,
): AsyncIterable<DbRow> {
  const stream = client.query(new QueryStream(text, values, { batchSize, highWaterMark: batchSize }));
  let line = 0;
  try {
    for await (const r of stream as AsyncIterable<{ phone: string | null; space?: string | null }>) {
      line += 1;
      const row: DbRow = { line, phone: r.phone ?? '' };
      if ('space' in r) row.space = r.space ?? '';
      yield row;
    }
  } catch (err) {
    throw sourceError(err, spec);
  } finally {
    stream.destroy();
  }
}

/** SQLSTATE classes that mean "the table, column or query is wrong", not "the server is down". */
const BAD_SOURCE_CLASSES = ['42', '22', '25', '0A', '2B'];

function sourceError(err: unknown, spec: DbSourceSpec | { label: string }): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown }).code;
  const where = 'label' in spec ? spec.label : 'query' in spec ? '--query' : `--table ${spec.table}`;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && BAD_SOURCE_CLASSES.includes(code.slice(0, 2))) {
    const hint = code === '25006' ? ' (the source is read in a READ ONLY transaction)' : '';
    return new AppError('DB_SOURCE', `${where}: ${message}${hint} (SQLSTATE ${code})`, { cause: err });
  }
  return err;
}
