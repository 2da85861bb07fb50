/**
 * `cams-enrich demo`: the whole product on one machine. Creates a scratch database on the configured
 * server and migrates it, starts the built-in simulator on a free loopback port, imports the bundled
 * sample CSV, runs workers in this process until the run is finished, prints the accounting and a few
 * stored rows, then drops the scratch database and empties its own queue: the simulated profiles never
 * reach the database of record, where a later `refresh` would send them to the real CAMS.
 */
import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { intArg } from '../cli-options.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertDatabase, createPool } from '../db/pool.js';
import { createScratchDatabase } from '../db/scratch-database.js';
import { failedNumbers } from '../db/sql/failed-numbers.js';
import { latestProfiles } from '../db/sql/latest-profiles.js';
import { startLocalStack } from '../../workers/local-stack.js';
import { maskPhone } from '../mask.js';
import { packageRoot } from '../package-root.js';
import { openDatabase, queueStoreOpener } from '../connections.js';
import { ensureDatabaseServer } from '../database-connection.js';
import { Resources } from '../resources.js';
import { importCsv } from '../runs/csv-import.js';
import { runStatus } from '../runs/status.js';
import { AppError } from '../errors.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';
import { waitForRun } from './progress.js';

export const demoDefinition = () =>
  new Command('demo')
    .description('a whole import of a bundled sample CSV against the built-in simulator, then a summary')
    .option('--workers <N>', 'in-process workers', intArg('--workers', 1, 64), 2);
export type DemoFlags = FlagsOf<typeof demoDefinition>;

export type DemoOptions = DemoFlags & {
  /** The CSV to import. Default: the bundled sample. */
  file?: string;
};

/** The sample's one number that CAMS says does not belong to the account. */
const FOREIGN_NUMBER = /^8613999999999$/;
export const DEMO_SPACE = 'demo-space';

export async function demoCommand(opts: DemoOptions, ctx: CommandContext): Promise<ExitCode> {
  const workers = opts.workers ?? 2;
  if (!Number.isInteger(workers) || workers < 1) throw new AppError('USAGE', '--workers must be at least 1');
  const { config } = ctx;
  // Progress and the summary tell the story; per-number warnings would break the progress bar (LOG_LEVEL=debug shows them).
  const log = config.logLevel === 'info' ? ctx.log.child({}, { level: 'error' }) : ctx.log;
  // The demo uses a queue of its own, so it never takes work from (or gives work to) a real fleet.
  const queueName = `${config.queueName}-demo`;
  const file = opts.file ?? join(packageRoot(), 'src', 'demo', 'sample.csv');
  const res = new Resources();
  try {
    // Only to create and drop the demo's own database: nothing is read or written in this one.
    await ensureDatabaseServer(config, log);
    const adminPool = res.own(createPool(config.databaseUrl, log, { max: 1 }), (p) => p.end());
    await assertDatabase(adminPool, config.databaseUrl);
    // A client of its own: CREATE DATABASE cannot run in the transaction pool.query wraps a statement in.
    const admin = res.own(await adminPool.connect(), (c) => c.release());
    const scratch = await createScratchDatabase(admin, config.databaseUrl, 'cams_enrich_demo');
    res.own(scratch, (s) => s.drop());
    const pool = await openDatabase(res, { ...config, databaseUrl: scratch.url }, log, 4 + workers * 2);
    const stack = await startLocalStack({
      pool,
      log,
      openStore: queueStoreOpener({ ...config, databaseUrl: scratch.url }, log, pool),
      queueName,
      rate: config.camsRateLimit,
      simulator: {
        faults: [
          {
            match: FOREIGN_NUMBER,
            answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' },
          },
        ],
      },
      regionId: config.camsRegion,
      connectTimeoutMs: config.camsConnectTimeoutMs,
      readTimeoutMs: config.camsReadTimeoutMs,
      worker: { attempts: config.attempts, highWater: config.queueHighWater },
    });
    // Closed before the scratch database is dropped; its queue's jobs are removed from Redis too.
    res.own(stack, (s) => s.close({ discardQueue: true }));
    const { sim, queue } = stack;
    ctx.err(
      `simulator listening on ${sim.endpoint} (rate ${config.camsRateLimit}/s); working in database ${scratch.name}, dropped at the end`,
    );

    const rejectsFile = join(tmpdir(), `cams-enrich-demo-rejects-${process.pid}.csv`);
    const { runId } = await importCsv(pool, log, {
      file,
      queue: queueName,
      space: DEMO_SPACE,
      defaultCountry: 'CN',
      rejectsFile,
      maxAgeMs: 0, // always fetch, so the demo shows the calls
    });
    ctx.err(`imported ${file} as run ${runId}; invalid rows in ${rejectsFile}`);
    await stack.feed();
    stack.startWorkers(workers);
    const { exitCode, status, outcome } = await waitForRun(pool, queue, stack.store, runId, ctx, {
      tty: Boolean(process.stderr.isTTY),
      goesOnWhenInterrupted: false,
    });
    if (outcome === 'interrupted') {
      // The demo's workers live in this process: stop them, then empty the demo's own queue, so
      // nothing of it is left running or waiting in Redis.
      await stack.stopWorkers();
      const jobs = await queue.count();
      await stack.store.discardQueue(queue);
      const left = await runStatus(pool, runId);
      ctx.err(
        `interrupted: stopped ${workers} demo worker(s) and removed ${jobs} job(s) from queue ${queueName}. ` +
          `Run ${runId} had ${left.pending} of ${left.total} numbers pending ` +
          `(enriched ${left.enriched}, failed ${left.failed}); its database ${scratch.name} is dropped. ` +
          `"cams-enrich demo" starts a new one.`,
      );
      return exitCode;
    }
    const c = sim.counters();
    ctx.out('');
    ctx.out(`run ${runId} ${status.finished ? 'finished' : 'stopped'}: ${status.total} rows read`);
    ctx.out(
      `  enriched ${status.enriched}, failed ${status.failed}, skipped ${status.skipped}, duplicate ${status.duplicate}, invalid ${status.invalid}, pending ${status.pending}`,
    );
    ctx.out(
      `  CAMS calls ${c.calls} (ok ${c.ok}, throttled ${c.throttled}, errors ${c.errors}); most calls in any one second: ${c.maxCallsInAnyWindow} (limit ${config.camsRateLimit})`,
    );
    ctx.out('  a few stored profiles (business_profiles):');
    for (const r of await latestProfiles(pool, DEMO_SPACE, 5))
      ctx.out(`    ${maskPhone(r.phoneNumber)}  ${r.vertical}  ${r.email}  ${r.address}`);
    const failed = await failedNumbers(pool, runId);
    if (failed.length > 0) ctx.out('  failed numbers (failed_numbers):');
    for (const f of failed) ctx.out(`    ${maskPhone(f.phoneNumber)}  ${f.errorCode}: ${f.errorMessage}`);
    ctx.out(
      `  the demo's database ${scratch.name} is dropped now; next: import your own file with "cams-enrich import"`,
    );
    return exitCode;
  } finally {
    await res.close();
  }
}

export const commandLine: CommandLine = (host) =>
  demoDefinition().action(async (opts) => host.exit(await demoCommand(opts, host.context())));
