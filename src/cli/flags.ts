/**
 * Every command's name, arguments and flags, defined once. The option object each command function
 * takes is derived from its definition here (`FlagsOf`), so renaming or dropping a flag without
 * changing the code that reads it fails `npm run typecheck`. A new command adds a definition here,
 * a `…Flags` type beside it, and takes that type in its command function.
 */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';

type Definition = () => { opts(): object };
/** The option values commander parses for the command a definition function builds. */
type Parsed<Define extends Definition> = ReturnType<ReturnType<Define>['opts']>;
/**
 * The option object a command function takes: the parsed values of its definition, each optional
 * for in-process callers (tests, the demo) except the `Needed` ones, which the command relies on.
 */
export type FlagsOf<Define extends Definition, Needed extends keyof Parsed<Define> = never> = Partial<
  Parsed<Define>
> &
  Pick<Parsed<Define>, Needed>;

/** A whole number from `min` to `max`, written in plain digits (not `1e3`, not `0x10`). */
function intArg(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = /^\d{1,15}$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** A number above 0 and at most `max`. */
function positiveArg(name: string, max: number) {
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`${name} must be a number above 0 and at most ${max}`);
    }
    return n;
  };
}

function delimiterArg(value: string): string {
  const d = value === 'tab' || value === '\\t' ? '\t' : value;
  if ([...d].length !== 1 || d === '"' || d === '\n' || d === '\r') {
    throw new InvalidArgumentError('--delimiter must be one character (not a quote or a line break), or tab');
  }
  return d;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const PROFILE_HELP =
  'credentials from this profile of ~/.aliyun/config.json or ~/.alibabacloud/credentials only (default: the credential chain)';

export const migrateDefinition = () =>
  new Command('migrate')
    .description('apply the SQL migrations (safe to run twice and concurrently)')
    .option('--json', 'print the result as JSON');
export type MigrateFlags = FlagsOf<typeof migrateDefinition>;

export const lookupDefinition = () =>
  new Command('lookup')
    .description('one QueryPhoneBusinessProfile call, printed')
    .argument('<phone>', 'phone number, country code first (e.g. 8613800001234)')
    .requiredOption('--space <CustSpaceId>', 'customer space id')
    .option('--profile <NAME>', PROFILE_HELP)
    .option('--json', 'print JSON');
export type LookupFlags = FlagsOf<typeof lookupDefinition, 'space'>;

export const importDefinition = () =>
  new Command('import')
    .description('stream a CSV of phone numbers into a new run; prints the run id')
    .argument('<file.csv>', 'CSV with a header row (- reads standard input)')
    .option('--space <ID>', 'CustSpaceId for every row')
    .option('--space-column <NAME>', 'header of a per-row CustSpaceId column')
    .option(
      '--phone-column <NAME>',
      'header of the phone column (default: phone, phone number, mobile, tel, ... ignoring case)',
    )
    .option('--default-country <CC>', 'ISO 3166 alpha-2 country for numbers without a country code')
    .option(
      '--delimiter <CHAR>',
      'field delimiter: one character, or tab (default: , ; or tab, from the header line)',
      delimiterArg,
    )
    .option('--encoding <NAME>', "the file's encoding, e.g. windows-1252, gb18030, utf-16le (default: utf-8)")
    .option('--rejects <FILE>', 'write invalid rows (line, raw value, reason) to this CSV')
    .option(
      '--max-age <DURATION>',
      'skip numbers fetched more recently than this (0 forces a refresh)',
      '30d',
    )
    .option('--wait', 'show progress until the run is finished')
    .option('--json', 'print JSON');
export type ImportFlags = FlagsOf<typeof importDefinition>;

export const workerDefinition = () =>
  new Command('worker')
    .description('run a worker process (any number may run on any number of machines)')
    .option('--concurrency <N>', 'jobs at once in this process', intArg('--concurrency', 1, 1000), 4)
    .option(
      '--rate <R>',
      'calls per second for the account (overrides CAMS_RATE_LIMIT)',
      positiveArg('--rate', 100_000),
    )
    .option(
      '--grace <DURATION>',
      'on a stop, wait this long for the jobs in hand, then abandon them and exit (overrides CAMS_SHUTDOWN_GRACE, default 30s)',
    )
    .option('--profile <NAME>', PROFILE_HELP);
export type WorkerFlags = FlagsOf<typeof workerDefinition>;

/** Runs `status` lists when `--limit` is not given. */
export const STATUS_LIMIT = 50;

export const statusDefinition = () =>
  new Command('status')
    .description('per-run accounting, queue depth, rate and ETA')
    .option('--run <ID>', 'one run')
    .option(
      '--limit <N>',
      `most runs listed, newest first (default ${STATUS_LIMIT})`,
      intArg('--limit', 1, 1_000_000),
    )
    .option('--json', 'print JSON');
export type StatusFlags = FlagsOf<typeof statusDefinition>;

export const resumeDefinition = () =>
  new Command('resume')
    .description('put back into Redis what it lost, clear an account alert and resume a paused queue')
    .option('--json', 'print JSON');
export type ResumeFlags = FlagsOf<typeof resumeDefinition>;

export const dashboardDefinition = () =>
  new Command('dashboard')
    .description(
      'Bull Board, runs page, /metrics, /healthz, /readyz (loopback unless DASHBOARD_TOKEN is set)',
    )
    .option('--port <P>', 'port (0: any free port)', intArg('--port', 0, 65_535), 3000)
    .option('--host <H>', 'address to listen on; beyond loopback DASHBOARD_TOKEN is required', '127.0.0.1');
export type DashboardFlags = FlagsOf<typeof dashboardDefinition>;

/** The part of the simulator's `--help` that explains the flags' values. */
const SIMULATOR_HELP = `
Serves QueryPhoneBusinessProfile (2020-06-06) on http://HOST:PORT with ACS3-HMAC-SHA256 checks.
It accepts the AccessKey pair in ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET (with ALIBABA_CLOUD_SECURITY_TOKEN
set, only requests carrying that token), or prints the one it made up. Every line it prints is an
\`export\`: paste them into the shell that runs lookup or the workers.

--throttle-form  http400 (HTTP 400 System.LimitControl), http200 (HTTP 200, Success false) or mixed

--fault RULE (repeatable; first matching rule answers):
  RULE    = ANSWER [%PERCENT] [xCOUNT[/number]] [#SEED] [@REGEX]
  ANSWER  = Product.Unsubscript | Ram.PermissionDeny | System.LimitControl | Unknown.ResourceOwnerId
            (HTTP 400; add :200 for the HTTP 200 Success=false form)
          | http500 | http502 | http503 | slow:MS | hang
  %PERCENT  hit this share of matching calls (seeded by #SEED for repeatable runs)
  xCOUNT    hit only the first COUNT matching calls (/number: the first COUNT per phone number)
  @REGEX    only phone numbers matching REGEX (the rest of the rule, so put it last)
Examples:
  --fault 'Unknown.ResourceOwnerId@^8613900000'   --fault 'http503%5#42'
  --fault 'slow:3000@^55'   --fault 'hang@^8613800000$'   --fault 'http503x2/number'

--jitter MS | MIN-MAX   each request waits a random MIN..MAX ms (MIN 0) before the limiter counts it
--background RATE[:FOR_S[:AFTER_S]]
                        another client of the same AccessKey sends RATE calls/s (evenly spaced),
                        for FOR_S seconds (default: all along), starting AFTER_S seconds in (default 0)
See docs/simulator.md.`;

/** How the simulator answers a throttled call. */
export const THROTTLE_FORMS = ['http400', 'http200', 'mixed'] as const;

export const simulatorDefinition = () =>
  new Command('simulator')
    .description('a local CAMS-compatible endpoint for demos, tests and benchmarks (see docs/simulator.md)')
    .option('--port <P>', 'port (0: any free port)', intArg('--port', 0, 65_535), 0)
    .option('--host <H>', 'address to listen on', '127.0.0.1')
    .option('--rate <R>', 'calls per second per AccessKey', positiveArg('--rate', 100_000), 10)
    .addOption(
      new Option('--throttle-form <FORM>', 'how throttling is answered')
        .choices(THROTTLE_FORMS)
        .default('http400'),
    )
    .option(
      '--fault <RULE>',
      'inject an error (repeatable; syntax below and in docs/simulator.md)',
      collect,
      [],
    )
    .option('--jitter <MS>', "random delay on each request's way in: MAX or MIN-MAX ms")
    .option('--background <SPEC>', 'another client on the AccessKey: RATE[:FOR_S[:AFTER_S]]')
    .addHelpText('after', SIMULATOR_HELP);
export type SimulatorFlags = FlagsOf<typeof simulatorDefinition>;

export const demoDefinition = () =>
  new Command('demo')
    .description('a whole import of a bundled sample CSV against the built-in simulator, then a summary')
    .option('--workers <N>', 'in-process workers', intArg('--workers', 1, 64), 2);
export type DemoFlags = FlagsOf<typeof demoDefinition>;

export const enqueueDbDefinition = () =>
  new Command('enqueue-db')
    .description('a run from a PostgreSQL table or query (nightly CRM enrichment); prints the run id')
    .option('--source-url <URL>', 'PostgreSQL holding the contacts (default: DATABASE_URL)')
    .option('--table <NAME>', 'table or schema.table to read')
    .option('--phone-column <COLUMN>', 'column of the table holding the phone number')
    .option('--space <ID>', 'CustSpaceId for every row')
    .option('--space-column <COLUMN>', "column of the table holding each row's CustSpaceId")
    .option('--where <SQL>', 'filter on the table, run read-only')
    .option('--query <SQL>', 'a SELECT returning phone_number and optionally cust_space_id, run read-only')
    .option('--default-country <CC>', 'ISO 3166 alpha-2 country for numbers without a country code')
    .option(
      '--max-age <DURATION>',
      'skip numbers fetched more recently than this (0 forces a refresh)',
      '30d',
    )
    .option('--json', 'print JSON');
export type EnqueueDbFlags = FlagsOf<typeof enqueueDbDefinition>;

export const refreshDefinition = () =>
  new Command('refresh')
    .description(
      'a run of stored profiles older than the duration and of numbers whose last failure was transient',
    )
    .requiredOption(
      '--older-than <DURATION>',
      'profiles fetched longer ago than this are fetched again (e.g. 7d)',
    )
    .option('--space <ID>', 'only this CustSpaceId')
    .option('--json', 'print JSON');
export type RefreshFlags = FlagsOf<typeof refreshDefinition, 'olderThan'>;

export const pruneDefinition = () =>
  new Command('prune')
    .description('delete the per-number rows of runs finished longer ago than the duration; counters stay')
    .requiredOption('--older-than <DURATION>', 'runs finished longer ago than this (e.g. 30d)')
    .option('--json', 'print JSON');
export type PruneFlags = FlagsOf<typeof pruneDefinition, 'olderThan'>;

export const scheduleAddDefinition = () =>
  new Command('add')
    .description(
      'add (or replace) a schedule: NAME --cron EXPR [--tz ZONE] -- <enqueue-db … | refresh … | prune …>',
    )
    .argument('<name>', 'name of the schedule; its runs have source schedule:<name>')
    .argument('<command...>', 'the command to run at each tick, after --')
    .requiredOption('--cron <EXPR>', 'cron expression: 5 fields, or 6 with seconds first (*/5 * * * * *)')
    .option('--tz <ZONE>', 'time zone of the cron expression (default: the worker machine’s)')
    .option('--json', 'print JSON');
export type ScheduleAddFlags = FlagsOf<typeof scheduleAddDefinition, 'cron'>;

export const scheduleListDefinition = () =>
  new Command('list')
    .description('every schedule with its next tick, its last tick and the last run it started')
    .option('--json', 'print JSON');
export type ScheduleListFlags = FlagsOf<typeof scheduleListDefinition>;

export const scheduleRemoveDefinition = () =>
  new Command('remove')
    .description('remove a schedule')
    .argument('<name>', 'name of the schedule')
    .option('--json', 'print JSON');
export type ScheduleRemoveFlags = FlagsOf<typeof scheduleRemoveDefinition>;
