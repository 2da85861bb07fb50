/**
 * `cams-enrich embedded start|status|stop`: the embedded PostgreSQL server that holds the ledger (and
 * the queue) when DATABASE_URL is unset. Commands start it themselves when they need it; these show
 * it, start it ahead of time, or stop it.
 */
import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import type { ServerStatus } from '../embedded/server.js';
import { embeddedStatus, ensureEmbeddedServer, stopEmbeddedServer } from '../embedded/server.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const embeddedStatusDefinition = () =>
  new Command('status')
    .description('whether the embedded server runs, its pid, data directory, log and DATABASE_URL')
    .option('--json', 'print JSON');
export type EmbeddedStatusFlags = FlagsOf<typeof embeddedStatusDefinition>;

export const embeddedStartDefinition = () =>
  new Command('start')
    .description('start the embedded server now (creating it the first time) instead of at first need')
    .option('--json', 'print JSON');
export type EmbeddedStartFlags = FlagsOf<typeof embeddedStartDefinition>;

export const embeddedStopDefinition = () =>
  new Command('stop')
    .description('stop the embedded server (the next command that needs it starts it again)')
    .option('--json', 'print JSON');
export type EmbeddedStopFlags = FlagsOf<typeof embeddedStopDefinition>;

function describe(s: ServerStatus): string[] {
  const who = s.user ? `, as user ${s.user}` : '';
  const head =
    s.state === 'running' || s.state === 'starting'
      ? `embedded PostgreSQL: ${s.state} (pid ${s.pid ?? '?'}${s.version ? `, PostgreSQL ${s.version.split('.').slice(0, 2).join('.')}` : ''}${who})`
      : s.state === 'stopped'
        ? `embedded PostgreSQL: stopped${s.stale ? ' (it ended without a shutdown; the next command starts it again)' : ''}`
        : 'embedded PostgreSQL: not created yet (the first command that needs it creates and starts it)';
  return [head, `  data:         ${s.dataDir}`, `  DATABASE_URL: ${s.url}`, `  log:          ${s.log}`];
}

export async function embeddedStatusCommand(
  opts: EmbeddedStatusFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const status = await embeddedStatus(ctx.config.dataDir);
  if (opts.json) ctx.out(JSON.stringify(status));
  else for (const line of describe(status)) ctx.out(line);
  return 0;
}

export async function embeddedStartCommand(opts: EmbeddedStartFlags, ctx: CommandContext): Promise<ExitCode> {
  const { started } = await ensureEmbeddedServer({ dataDir: ctx.config.dataDir, log: ctx.log });
  const status = await embeddedStatus(ctx.config.dataDir);
  if (opts.json) ctx.out(JSON.stringify({ ...status, started }));
  else for (const line of describe(status)) ctx.out(line);
  return 0;
}

export async function embeddedStopCommand(opts: EmbeddedStopFlags, ctx: CommandContext): Promise<ExitCode> {
  const pid = await stopEmbeddedServer({ dataDir: ctx.config.dataDir, log: ctx.log });
  if (opts.json) ctx.out(JSON.stringify({ stopped: pid !== undefined, pid: pid ?? null }));
  else
    ctx.out(
      pid === undefined
        ? 'embedded PostgreSQL: was not running'
        : `embedded PostgreSQL: stopped (pid ${pid})`,
    );
  return 0;
}

export const commandLine: CommandLine = (host) =>
  new Command('embedded')
    .description('the embedded PostgreSQL server used when DATABASE_URL is unset (docs/single-box.md)')
    .addCommand(
      embeddedStatusDefinition().action(async (opts) =>
        host.exit(await embeddedStatusCommand(opts, host.context())),
      ),
    )
    .addCommand(
      embeddedStartDefinition().action(async (opts) =>
        host.exit(await embeddedStartCommand(opts, host.context())),
      ),
    )
    .addCommand(
      embeddedStopDefinition().action(async (opts) =>
        host.exit(await embeddedStopCommand(opts, host.context())),
      ),
    );
