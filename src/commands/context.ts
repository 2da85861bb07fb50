/**
 * What every command receives from the CLI: the validated config, a logger, and where its own
 * output goes. Commands return the process exit code (0, 1 or 2, docs/contract.md "Exit codes") instead of exiting,
 * so tests can call them in-process.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Config, ConfigOverrides } from '../config.js';
import type { Logger } from '../log.js';

export interface CommandContext {
  readonly config: Config;
  readonly log: Logger;
  /** Writes one line of the command's own output (stdout). */
  readonly out: (line: string) => void;
  /** Writes one line meant for the person at the terminal (stderr). */
  readonly err: (line: string) => void;
  /** Aborted on the first SIGINT/SIGTERM; long-running commands stop gracefully when it fires. */
  readonly signal: AbortSignal;
  /**
   * Aborted on the second signal when the command listens to it (it then stops at once, bounded);
   * otherwise the second signal exits the process.
   */
  readonly force?: AbortSignal;
}

export type ExitCode = 0 | 1 | 2;

/** What the command line gives a command's action. */
export interface CommandHost {
  /** Builds the context the command runs in: the config read now, with the overrides its flags give. */
  context(overrides?: ConfigOverrides): CommandContext;
  /** Takes the exit code the command returned. */
  exit(code: ExitCode): void;
}

/**
 * What every module under `src/commands/` that is a command exports as `commandLine`: its commander
 * definition with the action that runs it, for `cli/main` to add.
 */
export type CommandLine = (host: CommandHost) => CommandUnknownOpts;
