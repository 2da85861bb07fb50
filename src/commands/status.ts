import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { intArg, runIdArg } from '../cli-options.js';
import { openLedgerAndQueue } from '../connections.js';
import { Resources } from '../resources.js';
import { allRunStatuses, describeRun, queueStatus, runStatus, workersText } from '../runs/status.js';
import type { QueueStatus } from '../runs/status.js';
import { countRuns } from '../db/runs.js';
import { UNREACHABLE_CODES } from '../cams/cams-error.js';
import { configuredAccount } from '../cams/account.js';
import { describeLimiter } from '../queue/rate-controller.js';
import { readQueueLimiter } from '../queue/queue-account.js';
import type { QueueLimiter } from '../queue/queue-account.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

/** Runs `status` lists when `--limit` is not given. */
export const STATUS_LIMIT = 50;

export const statusDefinition = () =>
  new Command('status')
    .description('per-run accounting, queue depth, rate and ETA')
    .option('--run <ID>', 'one run', runIdArg)
    .option(
      '--limit <N>',
      `most runs listed, newest first (default ${STATUS_LIMIT})`,
      intArg('--limit', 1, 1_000_000),
    )
    .option('--json', 'print JSON');
export type StatusFlags = FlagsOf<typeof statusDefinition>;

function describeQueue(q: QueueStatus, limiter: QueueLimiter): string[] {
  const lines = [
    `queue ${q.name}: ${q.waiting} waiting, ${q.active} active, ${q.delayed} delayed${q.paused ? ', PAUSED' : ''}; ${workersText(q.workers)}`,
    ...describeLimiter(limiter),
  ];
  if (q.alert && UNREACHABLE_CODES.includes(q.alert.code))
    lines.push(
      `  CAMS UNREACHABLE (${q.alert.code}) since ${q.alert.raisedAt}: ${q.alert.message}`,
      '  check CAMS_ENDPOINT and the network; calls resume and this clears by itself once it answers',
    );
  else if (q.alert)
    lines.push(
      `  PAUSED by ${q.alert.code} at ${q.alert.raisedAt}: ${q.alert.message}`,
      '  fix the account, then run "cams-enrich resume"',
    );
  return lines;
}

/** `warnings` (present only when there is one): what is wrong with the servers, such as Redis's eviction policy. */
function storeWarnings(eviction: string | undefined): { warnings?: string[] } {
  return eviction ? { warnings: [eviction] } : {};
}

function warningLines(w: { warnings?: string[] }): string[] {
  return (w.warnings ?? []).map((text) => `  WARNING: ${text}`);
}

export async function statusCommand(opts: StatusFlags, ctx: CommandContext): Promise<ExitCode> {
  const runId = opts.run;
  const res = new Resources();
  try {
    const { pool, store, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 2, { readOnly: true });
    const q = await queueStatus(pool, queue, store);
    const limiter = await readQueueLimiter(store, queue, {
      account: configuredAccount(ctx.config),
      quota: ctx.config.camsRateLimit,
    });
    const warnings = storeWarnings(await store.warning());
    if (runId !== undefined) {
      const s = await runStatus(pool, runId);
      const page =
        ctx.config.dashboardUrl === undefined ? undefined : `${ctx.config.dashboardUrl}/runs/${s.run}`;
      if (opts.json)
        ctx.out(JSON.stringify({ ...s, queue: q, limiter, ...(page ? { page } : {}), ...warnings }));
      else
        for (const line of [
          ...describeRun(s),
          ...(page ? [`  page: ${page}`] : []),
          ...describeQueue(q, limiter),
          ...warningLines(warnings),
        ])
          ctx.out(line);
      return 0;
    }
    const limit = opts.limit ?? STATUS_LIMIT;
    const runs = await allRunStatuses(pool, ctx.config.queueName, limit);
    if (opts.json) {
      ctx.out(JSON.stringify({ runs, queue: q, limiter, ...warnings }));
      return 0;
    }
    for (const line of [...describeQueue(q, limiter), ...warningLines(warnings)]) ctx.out(line);
    if (runs.length === 0)
      ctx.out('no runs yet: start one with "cams-enrich import <file.csv> --space <CustSpaceId>"');
    for (const s of runs) for (const line of describeRun(s)) ctx.out(line);
    const count = runs.length < limit ? runs.length : await countRuns(pool, ctx.config.queueName);
    if (count > runs.length)
      ctx.out(`(the newest ${runs.length} of ${count} runs; --limit N lists more, --run ID shows one)`);
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  statusDefinition().action(async (opts) => host.exit(await statusCommand(opts, host.context())));
