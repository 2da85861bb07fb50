import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { assertDatabase, createPool, withClient } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { ensureDatabaseServer } from '../database-connection.js';
import { Resources } from '../resources.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const migrateDefinition = () =>
  new Command('migrate')
    .description(
      "apply the SQL migrations, and BullMQ's for the queue on PostgreSQL (safe to run twice and concurrently)",
    )
    .option('--json', 'print the result as JSON');
export type MigrateFlags = FlagsOf<typeof migrateDefinition>;

export async function migrateCommand(opts: MigrateFlags, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { config } = ctx;
    await ensureDatabaseServer(config, ctx.log);
    const pool = res.own(createPool(config.databaseUrl, ctx.log, { max: 1, schema: config.schema }), (p) =>
      p.end(),
    );
    await assertDatabase(pool, config.databaseUrl);
    const result = await migrate(pool, ctx.log, { schema: config.schema });
    // The queue on PostgreSQL: BullMQ's schema too, so the workers' role never needs to change it.
    const queue =
      config.queueStore === 'postgres'
        ? await import('../queue/postgres-queue-schema.js').then(({ migrateQueueSchema }) =>
            withClient(pool, (client) => migrateQueueSchema(client)),
          )
        : undefined;
    if (opts.json) ctx.out(JSON.stringify(queue ? { ...result, queue } : result));
    else {
      if (result.applied.length === 0)
        ctx.out(`up to date (${result.alreadyApplied.length} migrations applied before)`);
      else ctx.out(`applied ${result.applied.join(', ')}`);
      if (queue && queue.version > queue.before)
        ctx.out(
          `the queue's schema ${queue.schema}: BullMQ's migrations applied up to version ${queue.version}`,
        );
      else if (queue) ctx.out(`the queue's schema ${queue.schema}: up to date (version ${queue.version})`);
    }
    return 0;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  migrateDefinition().action(async (opts) => host.exit(await migrateCommand(opts, host.context())));
