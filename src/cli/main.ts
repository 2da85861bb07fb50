/**
 * The command line: parses flags, builds the context, runs one command, maps errors to exit codes
 * (0 success, 1 runtime failure, 2 bad usage or bad input). It composes; the logic is elsewhere.
 */
import { getEventListeners } from 'node:events';
import { Command, CommanderError } from '@commander-js/extra-typings';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { loadConfig } from '../config.js';
import type { Config, ConfigOverrides } from '../config.js';
import { isAppError } from '../errors.js';
import { createLogger } from '../log.js';
import { packageVersion } from '../package-root.js';
import type { CommandContext, ExitCode } from '../commands/context.js';
import {
  dashboardDefinition,
  demoDefinition,
  enqueueDbDefinition,
  importDefinition,
  lookupDefinition,
  migrateDefinition,
  pruneDefinition,
  refreshDefinition,
  resumeDefinition,
  scheduleAddDefinition,
  scheduleListDefinition,
  scheduleRemoveDefinition,
  simulatorDefinition,
  statusDefinition,
  workerDefinition,
} from './flags.js';

/**
 * Runs the CLI with `argv` (without node and script); resolves to the exit code. `env` is the
 * environment the config is read from (default: the process's, read by `loadConfig`).
 */
export async function runCli(argv: string[], env?: NodeJS.ProcessEnv): Promise<ExitCode> {
  const controller = new AbortController();
  const forceController = new AbortController();
  let config: Config | undefined;
  const context = (overrides: ConfigOverrides = {}): CommandContext => {
    config = loadConfig(env, overrides);
    return {
      config,
      log: createLogger({
        level: config.logLevel,
        format: config.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json'),
      }),
      out: (line) => process.stdout.write(line + '\n'),
      err: (line) => process.stderr.write(line + '\n'),
      signal: controller.signal,
      force: forceController.signal,
    };
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      // Aborting first lets a command take down what it draws (a progress line) before this is printed.
      controller.abort();
      process.stderr.write(`\n${signal}: shutting down gracefully (again to force)\n`);
      return;
    }
    // A command that bounds its own forced stop (the worker) is told; the next signal exits at once.
    if (signals === 2 && getEventListeners(forceController.signal, 'abort').length > 0) {
      process.stderr.write(`${signal}: forcing the stop (again to exit at once)\n`);
      forceController.abort();
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

  // A command added whole does not inherit the program's settings (exit override, output) by itself.
  const add = (command: CommandUnknownOpts) => program.addCommand(command.copyInheritedSettings(program));
  add(
    migrateDefinition().action(async (opts) => {
      const { migrateCommand } = await import('../commands/migrate.js');
      exitCode = await migrateCommand(opts, context());
    }),
  );
  add(
    lookupDefinition().action(async (phone, opts) => {
      const { lookupCommand } = await import('../commands/lookup.js');
      exitCode = await lookupCommand(phone, opts, context({ profile: opts.profile }));
    }),
  );
  add(
    importDefinition().action(async (file, opts) => {
      const { importCommand } = await import('../commands/import.js');
      exitCode = await importCommand(file, opts, context());
    }),
  );
  add(
    workerDefinition().action(async (opts) => {
      const { workerCommand } = await import('../commands/worker.js');
      exitCode = await workerCommand(
        opts,
        context({ ...(opts.rate ? { camsRateLimit: opts.rate } : {}), profile: opts.profile }),
      );
    }),
  );
  add(
    statusDefinition().action(async (opts) => {
      const { statusCommand } = await import('../commands/status.js');
      exitCode = await statusCommand(opts, context());
    }),
  );
  add(
    resumeDefinition().action(async (opts) => {
      const { resumeCommand } = await import('../commands/resume.js');
      exitCode = await resumeCommand(opts, context());
    }),
  );
  add(
    dashboardDefinition().action(async (opts) => {
      const { dashboardCommand } = await import('../commands/dashboard.js');
      exitCode = await dashboardCommand(opts, context());
    }),
  );
  add(
    simulatorDefinition().action(async (opts) => {
      const { simulatorCommand } = await import('../commands/simulator.js');
      exitCode = await simulatorCommand(opts, context());
    }),
  );
  add(
    demoDefinition().action(async (opts) => {
      const { demoCommand } = await import('../commands/demo.js');
      exitCode = await demoCommand(opts, context());
    }),
  );

  add(
    enqueueDbDefinition().action(async (opts) => {
      const { enqueueDbCommand } = await import('../commands/enqueue-db.js');
      exitCode = await enqueueDbCommand(opts, context());
    }),
  );
  add(
    refreshDefinition().action(async (opts) => {
      const { refreshCommand } = await import('../commands/refresh.js');
      exitCode = await refreshCommand(opts, context());
    }),
  );
  add(
    pruneDefinition().action(async (opts) => {
      const { pruneCommand } = await import('../commands/prune.js');
      exitCode = await pruneCommand(opts, context());
    }),
  );
  const schedule = new Command('schedule')
    .description('recurring runs, carried out by the worker fleet once per tick (no daemon, no host cron)')
    .copyInheritedSettings(program);
  const addSub = (command: CommandUnknownOpts) => schedule.addCommand(command.copyInheritedSettings(program));
  addSub(
    scheduleAddDefinition().action(async (name, command, opts) => {
      const { scheduleAddCommand } = await import('../commands/schedule.js');
      exitCode = await scheduleAddCommand(name, command, opts, context());
    }),
  );
  addSub(
    scheduleListDefinition().action(async (opts) => {
      const { scheduleListCommand } = await import('../commands/schedule.js');
      exitCode = await scheduleListCommand(opts, context());
    }),
  );
  addSub(
    scheduleRemoveDefinition().action(async (name, opts) => {
      const { scheduleRemoveCommand } = await import('../commands/schedule.js');
      exitCode = await scheduleRemoveCommand(name, opts, context());
    }),
  );
  program.addCommand(schedule);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    exitCode = reportError(err, config?.logLevel === 'debug');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}

function reportError(err: unknown, debug: boolean): ExitCode {
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
  if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return 1;
}
