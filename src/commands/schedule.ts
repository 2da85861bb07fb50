import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { priorityArg } from '../cli-options.js';
import { AppError } from '../errors.js';
import { openDatabase, openQueueStore } from '../connections.js';
import { Resources } from '../resources.js';
import type { ScheduleInfo } from '../schedules/schedules.js';
import {
  checkScheduleName,
  createScheduleQueue,
  listSchedules,
  removeSchedule,
  upsertSchedule,
} from '../schedules/schedules.js';
import { checkStoredCommand, parseStoredCommand } from '../schedules/stored-command.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { DEFAULT_TICK_TIMEOUT_MS, localTimeZone, nextTick } from '../schedules/schedules.js';
import { formatDuration, parseDuration } from '../duration.js';
import { shellQuote } from '../shell-quote.js';
import type { ScheduleDeps } from '../runs/actions.js';
import { cliActor, disableScheduleAction, enableScheduleAction, runScheduleAction } from '../runs/actions.js';

export const scheduleAddDefinition = () =>
  new Command('add')
    .description(
      'add (or replace) a schedule: NAME --cron EXPR [--tz ZONE] -- <enqueue-db … | refresh … | prune …>',
    )
    .argument('<name>', 'name of the schedule; its runs have source schedule:<name>')
    .argument('<command...>', 'the command to run at each tick, after --')
    .requiredOption('--cron <EXPR>', 'cron expression: 5 fields, or 6 with seconds first (*/5 * * * * *)')
    .option('--tz <ZONE>', 'time zone of the cron expression (default: the zone of the machine adding it)')
    .option(
      '--timeout <DURATION>',
      "a tick's deadline: past it the tick is stopped, its run aborted and the tick recorded as failed (default 10m)",
    )
    .option(
      '--priority <LEVEL>',
      "high, normal or low: the priority of the schedule's runs (default: its command's, whose own default is normal for enqueue-db and low for refresh)",
      priorityArg,
    )
    .option('--json', 'print JSON');
export type ScheduleAddFlags = FlagsOf<typeof scheduleAddDefinition, 'cron'>;

export const scheduleListDefinition = () =>
  new Command('list')
    .description('every schedule with its next tick, its last tick and the last run it started')
    .option('--json', 'print JSON');
export type ScheduleListFlags = FlagsOf<typeof scheduleListDefinition>;

/** A subcommand that takes a schedule's name and nothing else but `--json`. */
const namedDefinition = (name: 'remove' | 'enable' | 'disable' | 'run', description: string) => () =>
  new Command(name)
    .description(description)
    .argument('<name>', 'name of the schedule')
    .option('--json', 'print JSON');
export type ScheduleNamedFlags = FlagsOf<ReturnType<typeof namedDefinition>>;
export const scheduleRemoveDefinition = namedDefinition('remove', 'remove a schedule');
export const scheduleEnableDefinition = namedDefinition(
  'enable',
  'enable a disabled schedule: its ticks start again from the next one (missed ticks are not made up)',
);
export const scheduleDisableDefinition = namedDefinition(
  'disable',
  'disable a schedule: no tick is made until it is enabled (a tick being carried out finishes)',
);
export const scheduleRunDefinition = namedDefinition(
  'run',
  'a tick of the schedule now, carried out by a worker like a cron tick (skipped while its previous run is pending)',
);

async function openScheduleQueue(res: Resources, config: Config, log: Logger) {
  const store = await openQueueStore(res, config, log, undefined, 'producer');
  const queue = res.own(createScheduleQueue(config.queueName, store), (q) => q.close());
  queue.on('error', (err) => log.error({ err }, 'schedules queue error'));
  return queue;
}

/**
 * The stored command with the schedule's `--priority` in it, so each tick's run has it: the command's
 * own `--priority` when it has one (the same, or a usage error), else appended.
 */
function withPriority(command: string[], priority: string | undefined): string[] {
  if (priority === undefined) return command;
  const parsed = parseStoredCommand(command);
  if (parsed.kind === 'prune')
    throw new AppError('USAGE', '--priority is for schedules that start runs, not prune');
  const own = parsed.flags.priority;
  if (own !== undefined && own !== priority)
    throw new AppError(
      'USAGE',
      `--priority ${priority} and the command's own --priority ${own} disagree: give one`,
    );
  return own === undefined ? [...command, '--priority', priority] : command;
}

/** Stores a schedule (replacing one of the same name) after checking its name, cron, zone and command. */
export async function scheduleAddCommand(
  name: string,
  command: string[],
  flags: ScheduleAddFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  checkScheduleName(name);
  nextTick(flags.cron, flags.tz);
  const timeoutMs = tickTimeout(flags.timeout);
  command = withPriority(command, flags.priority);
  checkStoredCommand(parseStoredCommand(command), ctx.config);
  const res = new Resources();
  try {
    const queue = await openScheduleQueue(res, ctx.config, ctx.log);
    // Stored with its zone: every worker reads the cron alike, whatever its own machine's zone.
    const tz = flags.tz ?? localTimeZone();
    const next = await upsertSchedule(queue, { name, cron: flags.cron, tz, command, timeoutMs });
    const deadline = timeoutMs ?? DEFAULT_TICK_TIMEOUT_MS;
    if (flags.json)
      ctx.out(JSON.stringify({ name, cron: flags.cron, tz, command, timeoutMs: deadline, next }));
    else
      ctx.out(
        `schedule ${name}: ${shellQuote(command)}; deadline ${formatDuration(deadline)}; next tick ${next.toISOString()} (cron in ${tz})`,
      );
    return 0;
  } finally {
    await res.close();
  }
}

/** Longest tick deadline accepted. */
const MAX_TICK_TIMEOUT_MS = 24 * 3_600_000;

/** `--timeout` in ms (undefined: the default), from 1 s to 24 h; `AppError('USAGE')` otherwise. */
export function tickTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value, '--timeout');
  if (ms < 1000 || ms > MAX_TICK_TIMEOUT_MS) {
    throw new AppError('USAGE', `--timeout ${JSON.stringify(value)}: a tick's deadline is from 1s to 24h`);
  }
  return ms;
}

function describeSchedule(s: ScheduleInfo): string[] {
  const lines = [
    `${s.name}${s.enabled ? '' : ' (DISABLED)'}: ${s.cron} (${s.tz ?? 'no zone stored: each worker reads it in its own'}), next ${s.next ?? '—'}, deadline ${formatDuration(s.timeoutMs)}`,
    `  runs: ${shellQuote(s.command)}`,
  ];
  if (s.lastTick === null) lines.push('  no tick yet');
  else lines.push(`  last tick ${s.lastTick.at} ${s.lastTick.outcome}: ${s.lastTick.message ?? ''}`);
  if (s.lastRun) {
    const r = s.lastRun;
    const state = r.finished ? (r.state === 'aborted' ? 'aborted' : 'finished') : `${r.pending} pending`;
    lines.push(
      `  last run ${r.run} ${state}: total ${r.total}, enriched ${r.enriched}, failed ${r.failed}, skipped ${r.skipped}, duplicate ${r.duplicate}, invalid ${r.invalid}`,
    );
  }
  if (s.skippedTicks > 0) lines.push(`  ${s.skippedTicks} ticks skipped while a previous run was pending`);
  return lines;
}

/** Every schedule with its next tick, its last tick and the last run it started. */
export async function scheduleListCommand(flags: ScheduleListFlags, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 2, { readOnly: true });
    const queue = await openScheduleQueue(res, ctx.config, ctx.log);
    const schedules = await listSchedules(queue, pool, ctx.config.queueName);
    if (flags.json) ctx.out(JSON.stringify({ schedules }));
    else if (schedules.length === 0)
      ctx.out('no schedules: add one with "cams-enrich schedule add NAME --cron EXPR -- <command>"');
    else for (const s of schedules) for (const line of describeSchedule(s)) ctx.out(line);
    return 0;
  } finally {
    await res.close();
  }
}

/** Removes a schedule; a name that is not a schedule is bad input (exit 2). */
export async function scheduleRemoveCommand(
  name: string,
  flags: ScheduleNamedFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const res = new Resources();
  try {
    const queue = await openScheduleQueue(res, ctx.config, ctx.log);
    if (!(await removeSchedule(queue, name))) {
      throw new AppError(
        'USAGE',
        `no schedule named ${JSON.stringify(name)} (see "cams-enrich schedule list")`,
      );
    }
    ctx.out(flags.json ? JSON.stringify({ removed: name }) : `schedule ${name} removed`);
    return 0;
  } finally {
    await res.close();
  }
}

/** Runs `act` with the ledger (for the audit) and the schedules' queue, closing both after. */
async function withScheduleDeps<T>(ctx: CommandContext, act: (deps: ScheduleDeps) => Promise<T>): Promise<T> {
  const res = new Resources();
  try {
    const pool = await openDatabase(res, ctx.config, ctx.log, 1);
    const schedules = await openScheduleQueue(res, ctx.config, ctx.log);
    return await act({ pool, schedules, queueName: ctx.config.queueName });
  } finally {
    await res.close();
  }
}

/** Enables or disables a schedule; a name that is not a schedule is bad input (exit 2). */
export async function scheduleSwitchCommand(
  name: string,
  enable: boolean,
  flags: ScheduleNamedFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const result = await withScheduleDeps(ctx, (deps) =>
    enable ? enableScheduleAction(deps, cliActor(), name) : disableScheduleAction(deps, cliActor(), name),
  );
  if (flags.json) ctx.out(JSON.stringify(result));
  else if (!result.changed) ctx.out(`schedule ${name} was already ${enable ? 'enabled' : 'disabled'}`);
  else
    ctx.out(
      enable ? `schedule ${name} enabled; next tick ${result.next ?? '—'}` : `schedule ${name} disabled`,
    );
  return 0;
}

/** Asks for a tick of a schedule now; a worker carries it out. */
export async function scheduleRunCommand(
  name: string,
  flags: ScheduleNamedFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const result = await withScheduleDeps(ctx, (deps) => runScheduleAction(deps, cliActor(), name));
  ctx.out(
    flags.json
      ? JSON.stringify(result)
      : `schedule ${name}: tick ${result.jobId} queued; a worker carries it out (see "cams-enrich schedule list")`,
  );
  return 0;
}

/** `schedule add|list|remove|enable|disable|run`. */
export const commandLine: CommandLine = (host) =>
  new Command('schedule')
    .description('recurring runs, carried out by the worker fleet once per tick (no daemon, no host cron)')
    .addCommand(
      scheduleAddDefinition().action(async (name, command, opts) =>
        host.exit(await scheduleAddCommand(name, command, opts, host.context())),
      ),
    )
    .addCommand(
      scheduleListDefinition().action(async (opts) =>
        host.exit(await scheduleListCommand(opts, host.context())),
      ),
    )
    .addCommand(
      scheduleRemoveDefinition().action(async (name, opts) =>
        host.exit(await scheduleRemoveCommand(name, opts, host.context())),
      ),
    )
    .addCommand(
      scheduleEnableDefinition().action(async (name, opts) =>
        host.exit(await scheduleSwitchCommand(name, true, opts, host.context())),
      ),
    )
    .addCommand(
      scheduleDisableDefinition().action(async (name, opts) =>
        host.exit(await scheduleSwitchCommand(name, false, opts, host.context())),
      ),
    )
    .addCommand(
      scheduleRunDefinition().action(async (name, opts) =>
        host.exit(await scheduleRunCommand(name, opts, host.context())),
      ),
    );
