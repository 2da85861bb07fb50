/**
 * A run's rows as CSV encoded by PostgreSQL: `COPY (SELECT …) TO STDOUT (FORMAT csv)` over the rows of
 * `exportRowsSource`, so the bytes arrive ready to write, with nothing parsed or encoded per row on
 * this side. The cells are those the export's own encoder writes: text formula-guarded as
 * `guardFormula` does (`FORMULA_START_SQL`), an empty text an empty cell (COPY would write `""`), the
 * websites joined by spaces; COPY quotes a cell holding a quote, a comma or a line break and doubles
 * its quotes, as that encoder does. One difference remains: COPY also quotes a lone `\.` when a row has
 * a single cell, so a one-column export is not read through here.
 */
import { to as copyTo } from 'pg-copy-streams';
import type { CopyToStreamQuery } from 'pg-copy-streams';
import type { PoolClient } from '../pool.js';
import { FORMULA_START_SQL } from '../../sources/rejects-writer.js';
import type { EXPORT_ROW_COLUMNS } from './export-rows.js';
import { FETCHED_AT_SQL, exportRowsSource } from './export-rows.js';

export type ExportColumn = (typeof EXPORT_ROW_COLUMNS)[number];

/** Text guarded against formulas; an empty text NULL, which COPY writes as an empty cell. */
const guarded = (value: string) =>
  `CASE WHEN ${value} ~ '${FORMULA_START_SQL}' THEN '''' || ${value} ELSE NULLIF(${value}, '') END`;

const CELLS: Record<ExportColumn, string> = {
  line: 'x.line',
  cust_space_id: guarded('x.cust_space_id'),
  phone_number: guarded('x.phone_number'),
  // The ledger's own words (a state of run_items, `duplicate`, `invalid`): nothing to guard or quote.
  outcome: 'x.outcome',
  duplicate_of: 'x.duplicate_of',
  number_outcome: 'x.number_outcome',
  reason: guarded('x.reason'),
  error_code: guarded('x.error_code'),
  error_message: guarded('x.error_message'),
  vertical: guarded('bp.vertical'),
  description: guarded('bp.description'),
  email: guarded('bp.email'),
  address: guarded('bp.address'),
  websites: guarded(`array_to_string(bp.websites, ' ', '')`),
  about: guarded('bp.about'),
  profile_picture_url: guarded('bp.profile_picture_url'),
  fetched_at: FETCHED_AT_SQL,
};

const RUN_SETTING = 'cams_enrich.export_run';
const OUTCOMES_SETTING = 'cams_enrich.export_outcomes';

/**
 * The stream of the run's rows as CSV lines (no header), only those with one of `outcomes` when given,
 * the cells `columns` in this order. COPY takes no bind parameters: the run and the outcomes are set for
 * the transaction first (`set_config`, sent as parameters) and the query reads each setting once (an
 * uncorrelated subquery). Call it inside a transaction of `client`, and run the stream there
 * (`client.query(stream)`): the settings last as long as that transaction.
 */
export async function exportCsvQuery(
  client: PoolClient,
  runId: number,
  outcomes: readonly string[] | undefined,
  columns: readonly ExportColumn[],
): Promise<CopyToStreamQuery> {
  await client.query(
    `SELECT set_config('${RUN_SETTING}', $1, true), set_config('${OUTCOMES_SETTING}', $2, true)`,
    [String(runId), outcomes === undefined ? '' : outcomes],
  );
  const source = exportRowsSource(
    `(SELECT current_setting('${RUN_SETTING}')::bigint)`,
    // Cast again, so that `= ANY (…)` reads an array, not the rows of a subquery.
    `(SELECT NULLIF(current_setting('${OUTCOMES_SETTING}'), '')::text[])::text[]`,
  );
  return copyTo(`COPY (SELECT ${columns.map((c) => CELLS[c]).join(', ')} ${source}) TO STDOUT (FORMAT csv)`);
}
