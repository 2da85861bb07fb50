/**
 * `cams-enrich usage`: what each customer space used, per UTC day: requests sent to CAMS, calls saved,
 * rows enriched and failed, throttles; and the period's totals per space.
 */
import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { durationArg, spaceArg } from '../cli-options.js';
import { parseDuration } from '../duration.js';
import { openDatabase } from '../database-connection.js';
import { Resources } from '../resources.js';
import { describeUsage, usageReport } from '../runs/usage.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

/** The period `usage` covers when `--since` is not given. */
export const USAGE_SINCE = '30d';

export const usageDefinition = () =>
  new Command('usage')
    .description('calls made and saved, rows enriched and failed, throttles, per customer space and UTC day')
    .option(
      '--since <DURATION>',
      `the UTC days from this long ago to today (default ${USAGE_SINCE})`,
      durationArg('--since'),
    )
    .option('--space <ID>', 'only this CustSpaceId', spaceArg)
    .option('--json', 'print JSON');
export type UsageFlags = FlagsOf<typeof usageDefinition>;

export async function usageCommand(flags: UsageFlags, ctx: CommandContext): Promise<ExitCode> {
  const sinceMs = flags.since ?? parseDuration(USAGE_SINCE);
  const since = new Date(Date.now() - sinceMs).toISOString().slice(0, 10);
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 2, { readOnly: true });
    const report = await usageReport(pool, { since, space: flags.space });
    if (flags.json) {
      ctx.out(JSON.stringify(report));
      return 0;
    }
    if (report.days.length === 0) {
      ctx.out(`no usage since ${since}${flags.space !== undefined ? ` for space ${flags.space}` : ''}`);
      return 0;
    }
    for (const d of report.days) ctx.out(`${d.day}  ${d.space}: ${describeUsage(d)}`);
    ctx.out(`since ${since}:`);
    for (const s of report.spaces) ctx.out(`  ${s.space}: ${describeUsage(s)}`);
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  usageDefinition().action(async (flags) => host.exit(await usageCommand(flags, host.context())));
