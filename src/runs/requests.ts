/**
 * The requests that both the command line and a schedule make of the ledger: `enqueue-db`, `refresh`
 * and `prune`. Each is defined here once (name, flags, the option object they parse into) with the
 * function that checks the flags and turns them into the options of the run (bad flags: exit 2),
 * so a schedule stores and re-parses its command exactly as the command line reads it.
 */
import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { durationArg, priorityArg, priorityHelp, spaceArg } from '../cli-options.js';
import { checkSpace } from '../space.js';
import type { Config } from '../config.js';
import type { PruneOptions } from '../db/prune.js';
import { DEFAULT_MAX_AGE, DEFAULT_MAX_AGE_MS } from '../duration.js';
import { AppError } from '../errors.js';
import { checkSourceUrl } from '../sources/db-connection.js';
import type { DbSourceSpec } from '../sources/db-source.js';
import type { DbImportOptions } from './db-import.js';
import { validateDbImport } from './db-import.js';
import type { RefreshOptions } from './refresh.js';

export const enqueueDbDefinition = () =>
  new Command('enqueue-db')
    .description('a run from a PostgreSQL table or query (nightly CRM enrichment); prints the run id')
    .option('--source-url <URL>', 'PostgreSQL holding the contacts (default: DATABASE_URL)')
    .option('--table <NAME>', 'table or schema.table to read')
    .option('--phone-column <COLUMN>', 'column of the table holding the phone number')
    .option('--space <ID>', 'CustSpaceId for every row', spaceArg)
    .option('--space-column <COLUMN>', "column of the table holding each row's CustSpaceId")
    .option('--where <SQL>', 'filter on the table, run read-only')
    .option('--query <SQL>', 'a SELECT returning phone_number and optionally cust_space_id, run read-only')
    .option('--default-country <CC>', 'ISO 3166 alpha-2 country for numbers without a country code')
    .option(
      '--max-age <DURATION>',
      `skip numbers fetched more recently than this (0 forces a refresh; default ${DEFAULT_MAX_AGE})`,
      durationArg('--max-age'),
    )
    .option('--priority <LEVEL>', priorityHelp('normal'), priorityArg)
    .option('--json', 'print JSON');
export type EnqueueDbFlags = FlagsOf<typeof enqueueDbDefinition>;

/**
 * The import options the flags stand for, checked without touching a database (bad flags: exit 2).
 * Shared by the command and by schedules, which check a stored command with it when it is added.
 */
export function enqueueDbOptions(
  flags: EnqueueDbFlags,
  config: Pick<Config, 'databaseUrl' | 'queueName'>,
): DbImportOptions {
  let spec: DbSourceSpec;
  if (flags.query !== undefined) {
    const extra = (
      [
        ['--table', flags.table],
        ['--phone-column', flags.phoneColumn],
        ['--space-column', flags.spaceColumn],
        ['--where', flags.where],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (extra) throw new AppError('USAGE', `${extra[0]} cannot be used with --query (the query says it all)`);
    spec = { query: flags.query };
  } else {
    if (flags.table === undefined || flags.phoneColumn === undefined) {
      throw new AppError('USAGE', 'give --table NAME --phone-column COLUMN, or --query SQL');
    }
    spec = {
      table: flags.table,
      phoneColumn: flags.phoneColumn,
      spaceColumn: flags.spaceColumn,
      where: flags.where,
    };
  }
  if (flags.sourceUrl !== undefined) checkSourceUrl(flags.sourceUrl, '--source-url');
  const options: DbImportOptions = {
    queue: config.queueName,
    sourceUrl: flags.sourceUrl ?? config.databaseUrl,
    sourceLabel: flags.sourceUrl !== undefined ? '--source-url' : 'DATABASE_URL',
    spec,
    space: flags.space,
    defaultCountry: flags.defaultCountry,
    maxAgeMs: flags.maxAge ?? DEFAULT_MAX_AGE_MS,
    priority: flags.priority,
  };
  validateDbImport(options);
  return options;
}

export const refreshDefinition = () =>
  new Command('refresh')
    .description(
      'a run of stored profiles older than the duration and of numbers whose last failure was transient',
    )
    .requiredOption(
      '--older-than <DURATION>',
      'profiles fetched longer ago than this are fetched again (e.g. 7d)',
      durationArg('--older-than'),
    )
    .option('--space <ID>', 'only this CustSpaceId', spaceArg)
    .option('--priority <LEVEL>', priorityHelp('low'), priorityArg)
    .option('--json', 'print JSON');
export type RefreshFlags = FlagsOf<typeof refreshDefinition, 'olderThan'>;

/** The refresh the flags stand for, checked without touching a database (bad flags: exit 2). */
export function refreshOptions(flags: RefreshFlags, config: Pick<Config, 'queueName'>): RefreshOptions {
  if (flags.olderThan === undefined)
    throw new AppError('USAGE', '--older-than DURATION is required (e.g. 7d)');
  return {
    queue: config.queueName,
    olderThanMs: flags.olderThan,
    space: flags.space === undefined ? undefined : checkSpace(flags.space),
    priority: flags.priority ?? 'low',
  };
}

export const pruneDefinition = () =>
  new Command('prune')
    .description('delete the per-number rows of runs finished longer ago than the duration; counters stay')
    .requiredOption(
      '--older-than <DURATION>',
      'runs finished longer ago than this (e.g. 30d)',
      durationArg('--older-than'),
    )
    .option('--json', 'print JSON');
export type PruneFlags = FlagsOf<typeof pruneDefinition, 'olderThan'>;

/** The prune the flags stand for (bad flags: exit 2). */
export function pruneOptions(flags: PruneFlags): PruneOptions {
  if (flags.olderThan === undefined)
    throw new AppError('USAGE', '--older-than DURATION is required (e.g. 30d)');
  return { olderThanMs: flags.olderThan };
}
