/**
 * The command line: parses flags, builds the context, runs one command, maps errors to exit codes
 * (0 success, 1 runtime failure, 2 bad usage or bad input). It composes; the logic is elsewhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config.js';
import type { Config, ConfigOverrides } from '../config.js';
import { isAppError } from '../errors.js';
import { createLogger } from '../log.js';
import { packageRoot } from '../package-root.js';
import type { CommandContext, ExitCode } from '../commands/context.js';
import { SIMULATOR_HELP } from '../commands/simulator.js';

function intArg(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
    return n;
  };
}

function positiveArg(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  const controller = new AbortController();
  let config: Config | undefined;
  const context = (overrides: ConfigOverrides = {}): CommandContext => {
    config = loadConfig(env, overrides);
    return {
      config,
      log: createLogger({ level: config.logLevel }),
      out: (line) => process.stdout.write(line + '\n'),
      err: (line) => process.stderr.write(line + '\n'),
      signal: controller.signal,
    };
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      process.stderr.write(`\n${signal}: shutting down gracefully (again to force)\n`);
      controller.abort();
      return;
    }
    process.stderr.write(
      `${signal}: forced exit; jobs in hand return to the queue when their lock expires\n`,
    );
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let exitCode: ExitCode = 0;
  const program = new Command('cams-enrich')
    .description('Enrich phone numbers with WhatsApp business profiles from Alibaba Cloud CAMS')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('migrate')
    .description('apply the SQL migrations (safe to run twice and concurrently)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { migrateCommand } = await import('../commands/migrate.js');
      exitCode = await migrateCommand(opts, context());
    });

  program
    .command('lookup')
    .description('one QueryPhoneBusinessProfile call, printed')
    .argument('<phone>', 'phone number, country code first (e.g. 8613800001234)')
    .requiredOption('--space <CustSpaceId>', 'customer space id')
    .option('--json', 'print JSON')
    .action(async (phone: string, opts: { space: string; json?: boolean }) => {
      const { lookupCommand } = await import('../commands/lookup.js');
      exitCode = await lookupCommand(phone, opts, context());
    });

  program
    .command('import')
    .description('stream a CSV of phone numbers into a new run; prints the run id')
    .argument('<file.csv>', 'CSV with a header row')
    .option('--space <ID>', 'CustSpaceId for every row')
    .option('--space-column <NAME>', 'header of a per-row CustSpaceId column')
    .option(
      '--phone-column <NAME>',
      'header of the phone column (default: phone, phone_number, mobile or PhoneNumber)',
    )
    .option('--default-country <CC>', 'ISO 3166 alpha-2 country for numbers without a country code')
    .option('--rejects <FILE>', 'write invalid rows (line, raw value, reason) to this CSV')
    .option(
      '--max-age <DURATION>',
      'skip numbers fetched more recently than this (0 forces a refresh)',
      '30d',
    )
    .option('--wait', 'show progress until the run is finished')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: Record<string, string | boolean | undefined>) => {
      const { importCommand } = await import('../commands/import.js');
      exitCode = await importCommand(file, opts, context());
    });

  program
    .command('worker')
    .description('run a worker process (any number may run on any number of machines)')
    .option('--concurrency <N>', 'jobs at once in this process', intArg('--concurrency'), 4)
    .option(
      '--rate <R>',
      'calls per second for the account (overrides CAMS_RATE_LIMIT)',
      positiveArg('--rate'),
    )
    .action(async (opts: { concurrency: number; rate?: number }) => {
      const { workerCommand } = await import('../commands/worker.js');
      exitCode = await workerCommand(opts, context(opts.rate ? { camsRateLimit: opts.rate } : {}));
    });

  program
    .command('status')
    .description('per-run accounting, queue depth, rate and ETA')
    .option('--run <ID>', 'one run')
    .option('--json', 'print JSON')
    .action(async (opts: { run?: string; json?: boolean }) => {
      const { statusCommand } = await import('../commands/status.js');
      exitCode = await statusCommand(opts, context());
    });

  program
    .command('resume')
    .description('put back into Redis what it lost, clear an account alert and resume a paused queue')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { resumeCommand } = await import('../commands/resume.js');
      exitCode = await resumeCommand(opts, context());
    });

  program
    .command('simulator')
    .description('a local CAMS-compatible endpoint for demos, tests and benchmarks (see docs/simulator.md)')
    .option('--port <P>', 'port (0: any free port)', intArg('--port'), 0)
    .option('--host <H>', 'address to listen on', '127.0.0.1')
    .option('--rate <R>', 'calls per second per AccessKey', positiveArg('--rate'), 10)
    .addOption(
      new Option('--throttle-form <FORM>', 'how throttling is answered')
        .choices(['http400', 'http200', 'mixed'])
        .default('http400'),
    )
    .option(
      '--fault <RULE>',
      'inject an error (repeatable; syntax below and in docs/simulator.md)',
      collect,
      [],
    )
    .addHelpText('after', SIMULATOR_HELP)
    .action(async (opts: Record<string, unknown>) => {
      const { simulatorCommand } = await import('../commands/simulator.js');
      exitCode = await simulatorCommand(opts, context());
    });

  program
    .command('demo')
    .description('a whole import of a bundled sample CSV against the built-in simulator, then a summary')
    .option('--workers <N>', 'in-process workers', intArg('--workers'), 2)
    .action(async (opts: { workers: number }) => {
      const { demoCommand } = await import('../commands/demo.js');
      exitCode = await demoCommand(opts, context());
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    exitCode = reportError(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function reportError(err: unknown): ExitCode {
  if (err instanceof CommanderError) {
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
      ? 0
      : 2;
  }
  if (isAppError(err)) {
    process.stderr.write(`cams-enrich: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`cams-enrich: unexpected failure: ${message}\n`);
  if (process.env.LOG_LEVEL === 'debug' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return 1;
}
