/**
 * The command line: assembles the commands, builds the context one runs in, turns SIGINT/SIGTERM into
 * its graceful then forced stop, and maps errors to exit codes (0 success, 1 runtime failure, 2 bad
 * usage or bad input). It composes; each command is defined in its own module under `src/commands/`.
 */
import { getEventListeners } from 'node:events';
import { Command, CommanderError } from '@commander-js/extra-typings';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { loadConfig } from '../config.js';
import type { Config, ConfigOverrides } from '../config.js';
import { isAppError } from '../errors.js';
import { redisConfigProblem } from '../queue/redis-readiness.js';
import { createLogger } from '../log.js';
import { packageVersion } from '../package-root.js';
import type { CommandContext, CommandHost, CommandLine, ExitCode } from '../commands/context.js';

/**
 * Every command, in the order `--help` lists them, by the name it is called by. Each module under
 * `src/commands/` defines its command whole (flags, their parsing, the action) and exports it as
 * `commandLine`; only the module of the command being run is loaded (all of them for the help).
 */
const COMMANDS: Record<string, () => Promise<{ commandLine: CommandLine }>> = {
  migrate: () => import('../commands/migrate.js'),
  lookup: () => import('../commands/lookup.js'),
  import: () => import('../commands/import.js'),
  worker: () => import('../commands/worker.js'),
  status: () => import('../commands/status.js'),
  resume: () => import('../commands/resume.js'),
  dashboard: () => import('../commands/dashboard.js'),
  simulator: () => import('../commands/simulator.js'),
  demo: () => import('../commands/demo.js'),
  'enqueue-db': () => import('../commands/enqueue-db.js'),
  refresh: () => import('../commands/refresh.js'),
  prune: () => import('../commands/prune.js'),
  export: () => import('../commands/export.js'),
  usage: () => import('../commands/usage.js'),
  schedule: () => import('../commands/schedule.js'),
  cancel: () => import('../commands/cancel.js'),
  priority: () => import('../commands/priority.js'),
  embedded: () => import('../commands/embedded.js'),
  pause: () => import('../commands/pause.js'),
  'retry-failed': () => import('../commands/retry-failed.js'),
};

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

  const host: CommandHost = { context, exit: (code) => void (exitCode = code) };
  const name = argv[0];
  const loads =
    name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
  for (const module of await Promise.all(loads.map((load) => load()))) {
    program.addCommand(inheritSettings(module.commandLine(host), program));
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    exitCode = reportError(err, config?.logLevel === 'debug', config?.redisUrl);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}

/** A command added whole does not inherit the program's settings (exit override, output) by itself. */
function inheritSettings(command: CommandUnknownOpts, program: CommandUnknownOpts): CommandUnknownOpts {
  command.copyInheritedSettings(program);
  for (const sub of command.commands) inheritSettings(sub, program);
  return command;
}

function reportError(err: unknown, debug: boolean, redisUrl: string | undefined): ExitCode {
  if (err instanceof CommanderError) {
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
      ? 0
      : 2;
  }
  // A Redis that refuses a command after connecting (an ACL without it, a replica after a failover)
  // is configuration to fix, named like the same refusal at connect.
  const named = isAppError(err) ? err : redisUrl ? redisConfigProblem(err, redisUrl) : undefined;
  if (named) {
    process.stderr.write(`cams-enrich: ${named.message}\n`);
    return named.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`cams-enrich: unexpected failure: ${message}\n`);
  if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return 1;
}
