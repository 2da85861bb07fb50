import { assertDatabase, createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { Resources } from '../resources.js';
import type { MigrateFlags } from '../cli/flags.js';
import type { CommandContext, ExitCode } from './context.js';

export async function migrateCommand(opts: MigrateFlags, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { config } = ctx;
    const pool = res.own(createPool(config.databaseUrl, ctx.log, { max: 1, schema: config.schema }), (p) =>
      p.end(),
    );
    await assertDatabase(pool, config.databaseUrl);
    const result = await migrate(pool, ctx.log, { schema: config.schema });
    if (opts.json) ctx.out(JSON.stringify(result));
    else if (result.applied.length === 0)
      ctx.out(`up to date (${result.alreadyApplied.length} migrations applied before)`);
    else ctx.out(`applied ${result.applied.join(', ')}`);
    return 0;
  } finally {
    await res.close();
  }
}
