/**
 * The runs page's downloads, as CSV (the export's, formula-guarded): a run's whole export, its rejects
 * (the invalid rows, with their reason) and its failures (the failed numbers, with code and message).
 * They stream from the ledger like `cams-enrich export` and sit behind the dashboard's access rule like
 * every route.
 */
import { PassThrough, Readable } from 'node:stream';
import type { Hono } from 'hono';
import type { Pool } from '../db/pool.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ExportOptions } from '../runs/export-run.js';
import { prepareExport } from '../runs/export-run.js';

const DOWNLOADS: Record<string, Omit<ExportOptions, 'runId'>> = {
  export: {},
  rejects: { outcomes: ['invalid'], columns: ['line', 'reason'] },
  failures: {
    outcomes: ['failed'],
    columns: ['line', 'cust_space_id', 'phone_number', 'error_code', 'error_message'],
  },
};

/** `GET /api/runs/:run/{export,rejects,failures}.csv`. */
export function addDownloads(app: Hono, pool: Pool, log: Logger): void {
  app.get('/api/runs/:run/:file', async (c) => {
    const match = /^(export|rejects|failures)\.csv$/.exec(c.req.param('file'));
    const runText = c.req.param('run');
    if (!match || !/^\d{1,15}$/.test(runText)) return c.notFound();
    const kind = match[1]!;
    const runId = Number(runText);
    let prepared;
    try {
      prepared = await prepareExport(pool, { runId, ...DOWNLOADS[kind] });
    } catch (err) {
      if (isAppError(err) && err.exitCode === 2) return c.text(`${err.message}\n`, 404);
      throw err;
    }
    const out = new PassThrough();
    prepared.write(out).catch((err: unknown) => {
      log.warn({ err, run: runId }, 'a download stopped');
      out.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    return new Response(Readable.toWeb(out) as ReadableStream, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="run-${runId}-${kind}.csv"`,
      },
    });
  });
}
