/**
 * Every input row of a run, in line order, as one stream: the first row of each number (run_items), the
 * later rows of a number already in the run (run_duplicates, with the outcome of the line they repeat) and
 * the rows that were not valid numbers (run_rejects), each with the stored profile of its number when the
 * number was enriched or skipped. Read through a cursor (or COPY, `export-csv.ts`, which shares the rows'
 * source), so a run of millions of rows is never held whole.
 */
import QueryStream from 'pg-query-stream';

/** The columns of a row, in the order of `ExportRow`. */
export const EXPORT_ROW_COLUMNS = [
  'line',
  'cust_space_id',
  'phone_number',
  'outcome',
  'duplicate_of',
  'number_outcome',
  'reason',
  'error_code',
  'error_message',
  'vertical',
  'description',
  'email',
  'address',
  'websites',
  'about',
  'profile_picture_url',
  'fetched_at',
] as const;

/**
 * One row as an array in the order of `EXPORT_ROW_COLUMNS` (`rowMode: 'array'`, which spares an object
 * per row): line (a string of digits), strings or null, websites a string array or null, fetched_at ISO
 * 8601 in UTC.
 */
export type ExportRow = [
  line: string,
  custSpaceId: string | null,
  phoneNumber: string | null,
  outcome: string,
  duplicateOf: string | null,
  numberOutcome: string | null,
  reason: string | null,
  errorCode: string | null,
  errorMessage: string | null,
  vertical: string | null,
  description: string | null,
  email: string | null,
  address: string | null,
  websites: string[] | null,
  about: string | null,
  profilePictureUrl: string | null,
  fetchedAt: string | null,
];

/** `fetched_at` as ISO 8601 in UTC with milliseconds, the form both encodings write. */
export const FETCHED_AT_SQL = `to_char(bp.fetched_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The run's rows in line order, `x` each with its number's profile `bp`, from `FROM` on: `run` is the SQL
 * of the run's id, `outcomes` that of the outcomes kept (a text[], or NULL for every row). The rows are
 * put in line order before the profiles are looked up, one by one through their key and only for an
 * enriched or skipped number: joined as a whole, business_profiles (every number ever fetched, not only
 * the run's) would be read and hashed for each export, and the wide joined rows sorted. `OFFSET 0` keeps
 * the lookup a lookup (the planner would otherwise flatten it into that join).
 */
export function exportRowsSource(run: string, outcomes: string): string {
  return `FROM (
       SELECT i.line, i.cust_space_id, i.phone_number, i.state AS outcome, NULL::bigint AS duplicate_of,
              i.state AS number_outcome, NULL::text AS reason, i.error_code, i.error_message
       FROM run_items i WHERE i.run_id = ${run}
       UNION ALL
       SELECT d.line, d.cust_space_id, d.phone_number, 'duplicate', i.line, i.state, NULL, i.error_code,
              i.error_message
       FROM run_duplicates d
       JOIN run_items i
         ON i.run_id = d.run_id AND i.cust_space_id = d.cust_space_id AND i.phone_number = d.phone_number
       WHERE d.run_id = ${run}
       UNION ALL
       SELECT r.line, NULL, NULL, 'invalid', NULL, NULL, r.reason, NULL, NULL
       FROM run_rejects r WHERE r.run_id = ${run}
       ORDER BY line
     ) x
     LEFT JOIN LATERAL (
       SELECT p.vertical, p.description, p.email, p.address, p.websites, p.about, p.profile_picture_url,
              p.fetched_at
       FROM business_profiles p
       WHERE x.number_outcome IN ('enriched', 'skipped')
         AND p.cust_space_id = x.cust_space_id AND p.phone_number = x.phone_number
       OFFSET 0
     ) bp ON true
     WHERE ${outcomes} IS NULL OR x.outcome = ANY (${outcomes})
     ORDER BY x.line`;
}

/**
 * The stream of a run's rows (run it with `client.query(stream)`; destroy it to stop early), only those
 * with one of `outcomes` when given.
 */
export function exportRowsQuery(
  runId: number,
  options: { outcomes?: readonly string[] | undefined; batchSize?: number } = {},
): QueryStream {
  return new QueryStream(
    `SELECT x.line::text, x.cust_space_id, x.phone_number, x.outcome, x.duplicate_of::text, x.number_outcome,
            x.reason, x.error_code, x.error_message,
            bp.vertical, bp.description, bp.email, bp.address, bp.websites, bp.about, bp.profile_picture_url,
            ${FETCHED_AT_SQL} AS fetched_at
     ${exportRowsSource('$1', '$2::text[]')}`,
    [runId, options.outcomes === undefined ? null : [...options.outcomes]],
    { batchSize: options.batchSize ?? 2000, rowMode: 'array' },
  );
}
