/**
 * The command a schedule carries (`schedule add NAME --cron EXPR -- <command…>`): parsed with the
 * definitions the command line uses (`runs/requests.ts`), checked when the schedule is added (exit 2
 * for a bad one), and carried out in a worker at each tick through the same functions the commands use.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { pruneRuns } from '../db/prune.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { importFromDatabase } from '../runs/db-import.js';
import { nothingToRefresh, refreshRun } from '../runs/refresh.js';
import type { EnqueueDbFlags, PruneFlags, RefreshFlags } from '../runs/requests.js';
import {
  enqueueDbDefinition,
  enqueueDbOptions,
  pruneDefinition,
  pruneOptions,
  refreshDefinition,
  refreshOptions,
} from '../runs/requests.js';

export type StoredCommand =
  | { kind: 'enqueue-db'; flags: EnqueueDbFlags }
  | { kind: 'refresh'; flags: RefreshFlags }
  | { kind: 'prune'; flags: PruneFlags };

/** The commands a schedule may carry. */
export const SCHEDULABLE_COMMANDS = ['enqueue-db', 'refresh', 'prune'] as const;

/** Parses `argv` (`enqueue-db --table …`) with the CLI's definitions; `AppError('USAGE')` when it is not one. */
export function parseStoredCommand(argv: readonly string[]): StoredCommand {
  if (argv.length === 0 || !(SCHEDULABLE_COMMANDS as readonly string[]).includes(argv[0]!)) {
    throw new AppError(
      'USAGE',
      `a schedule runs one of ${SCHEDULABLE_COMMANDS.join(', ')} (after --), not ${argv[0] === undefined ? 'nothing' : JSON.stringify(argv[0])}`,
    );
  }
  let parsed: StoredCommand | undefined;
  let message = '';
  const program = new Command('cams-enrich')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: (s) => (message += s) });
  const add = (command: CommandUnknownOpts) =>
    program.addCommand(command.copyInheritedSettings(program).helpOption(false));
  add(enqueueDbDefinition().action((flags) => void (parsed = { kind: 'enqueue-db', flags })));
  add(refreshDefinition().action((flags) => void (parsed = { kind: 'refresh', flags })));
  add(pruneDefinition().action((flags) => void (parsed = { kind: 'prune', flags })));
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      const reason = (message.trim() || err.message).replace(/^error: /, '');
      throw new AppError('USAGE', `the scheduled command "${argv.join(' ')}": ${reason}`, { cause: err });
    }
    throw err;
  }
  if (!parsed) throw new AppError('USAGE', `the scheduled command "${argv.join(' ')}" was not understood`);
  return parsed;
}

/**
 * Checks a stored command as far as can be done without a database: its flags, and no secret in it
 * (a schedule's command is kept in Redis, where a password must never be).
 */
export function checkStoredCommand(
  command: StoredCommand,
  config: Pick<Config, 'databaseUrl' | 'queueName'>,
): void {
  switch (command.kind) {
    case 'enqueue-db': {
      const url = command.flags.sourceUrl;
      if (url !== undefined && hasPassword(url)) {
        throw new AppError(
          'USAGE',
          'a scheduled --source-url must not hold a password, in user:pass@ or in a parameter such as password= or passfile= (it is stored in Redis): give the workers PGPASSWORD or a ~/.pgpass entry instead',
        );
      }
      enqueueDbOptions(command.flags, config);
      return;
    }
    case 'refresh':
      refreshOptions(command.flags, config);
      return;
    case 'prune':
      pruneOptions(command.flags);
      return;
  }
}

/**
 * Whether a connection URL carries a password: `user:pass@`, or a parameter that holds one or points
 * to one (`password`, `passfile`, `sslpassword`, any name with `pass` in it, in any case).
 */
export function hasPassword(url: string): boolean {
  try {
    const u = new URL(url);
    return u.password !== '' || [...u.searchParams.keys()].some((key) => /pass/i.test(key));
  } catch {
    return /:[^/@]*@/.test(url) || /pass[a-z]*\s*=/i.test(url);
  }
}

export interface StoredCommandResult {
  /** The run the command created, if it creates one. */
  runId: number | null;
  /** One line saying what it did. */
  summary: string;
}

/**
 * Carries out a stored command in this process; its run's source is `runSource`. Aborting `signal`
 * stops a command that reads a source at once (its run aborted, its rows counted).
 */
export async function runStoredCommand(
  deps: { pool: Pool; log: Logger; config: Pick<Config, 'databaseUrl' | 'queueName'> },
  command: StoredCommand,
  runSource: string,
  signal?: AbortSignal,
): Promise<StoredCommandResult> {
  const { pool, log, config } = deps;
  switch (command.kind) {
    case 'enqueue-db': {
      const options = enqueueDbOptions(command.flags, config);
      const r = await importFromDatabase(pool, log, { ...options, runSource, signal });
      return { runId: r.runId, summary: `run ${r.runId}: ${r.rows} rows, ${r.invalid} invalid` };
    }
    case 'refresh': {
      const options = refreshOptions(command.flags, config);
      const r = await refreshRun(pool, log, { ...options, runSource, signal });
      if (r === null) return { runId: null, summary: nothingToRefresh(options) };
      return { runId: r.runId, summary: `run ${r.runId}: ${r.rows} numbers to refresh` };
    }
    case 'prune': {
      const r = await pruneRuns(pool, pruneOptions(command.flags));
      return {
        runId: null,
        summary: `pruned ${r.runs} runs (${r.items} run items, ${r.rejects} rejected rows)`,
      };
    }
  }
}
