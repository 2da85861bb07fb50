import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { intArg } from '../cli-options.js';
import { assertBindable } from '../dashboard/access.js';
import { createDashboard, listen } from '../dashboard/server.js';
import { AppError } from '../errors.js';
import { openDatabase, openQueue, openQueueStore } from '../connections.js';
import { Resources } from '../resources.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const dashboardDefinition = () =>
  new Command('dashboard')
    .description(
      'Bull Board, runs page, /metrics, /healthz, /readyz (loopback unless DASHBOARD_TOKEN is set)',
    )
    .option('--port <P>', 'port (0: any free port)', intArg('--port', 0, 65_535), 3000)
    .option('--host <H>', 'address to listen on; beyond loopback DASHBOARD_TOKEN is required', '127.0.0.1');
export type DashboardFlags = FlagsOf<typeof dashboardDefinition>;

/**
 * Serves the dashboard until SIGINT/SIGTERM: `port` default 3000 (0 picks a free one), `host` default
 * 127.0.0.1 (any other address needs `DASHBOARD_TOKEN`).
 */
export async function dashboardCommand(opts: DashboardFlags, ctx: CommandContext): Promise<ExitCode> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 3000;
  assertBindable(host, ctx.config.dashboardToken);
  const res = new Resources();
  try {
    // Room for a retry-failed import (3 connections) beside the page's reads.
    const pool = await openDatabase(res, ctx.config, ctx.log, 6, { readOnly: true });
    const store = await openQueueStore(res, ctx.config, ctx.log, pool, 'producer', { record: false });
    const queue = openQueue(res, ctx.config, store, ctx.log);
    const dashboard = res.own(
      createDashboard({ config: ctx.config, pool, store, queue, log: ctx.log }),
      (d) => d.close(),
    );
    let server;
    try {
      server = res.own(await listen(dashboard.app, host, port), (s) => s.close());
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new AppError('USAGE', `cannot listen on ${host}:${port}: ${code ?? String(err)}`, { cause: err });
    }
    ctx.err(
      `dashboard on ${server.url}/ (Bull Board at /queues, metrics at /metrics)${ctx.config.dashboardToken ? '; token required' : '; read-only without DASHBOARD_TOKEN'}`,
    );
    ctx.log.info(
      { url: server.url, queue: queue.name, tokenRequired: !!ctx.config.dashboardToken },
      'dashboard started',
    );
    await new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    ctx.log.info('dashboard stopping');
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  dashboardDefinition().action(async (opts) => host.exit(await dashboardCommand(opts, host.context())));
