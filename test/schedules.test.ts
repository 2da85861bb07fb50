/**
 * Schedules: stored as BullMQ job schedulers, carried out by the workers (one tick = one job = at
 * most one run), a tick skipped while the schedule's previous run still has pending numbers.
 */
import { createRedisQueueStore } from '../src/queue/redis-queue-store.js';
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { latestTicks } from '../src/db/schedule-ticks.js';
import { createRedis } from '../src/queue/queue.js';
import type { ScheduleQueue } from '../src/schedules/schedules.js';
import {
  createScheduleQueue,
  listSchedules,
  nextTick,
  scheduleQueueName,
  upsertSchedule,
} from '../src/schedules/schedules.js';
import { checkStoredCommand, parseStoredCommand } from '../src/schedules/stored-command.js';
import type { TickJob } from '../src/schedules/tick.js';
import { runTick } from '../src/schedules/tick.js';
import { createFeeder } from '../src/queue/feeder.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pipelineEnv, startCli, startWorkerProcess } from './helpers/processes.js';
import { deleteQueueKeys, redisUrl } from './helpers/services.js';

let p: Pipeline | undefined;
let scheduleQueue: ScheduleQueue | undefined;
let connection: Redis | undefined;

beforeAll(assertBuilt);

/** Runs one CLI command to its end (output drained); resolves to its exit code and output. */
async function runCli(pipeline: Pipeline, args: string[], env: NodeJS.ProcessEnv = {}) {
  const cli = startCli(args, pipelineEnv(pipeline, env));
  const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

afterEach(async () => {
  await killAll();
  if (p) {
    await scheduleQueue?.obliterate({ force: true }).catch(() => undefined);
    await scheduleQueue?.close();
    await connection?.quit();
    await deleteQueueKeys(p.redis, scheduleQueueName(p.queueName));
  }
  scheduleQueue = undefined;
  connection = undefined;
  await p?.close();
  p = undefined;
});

function numbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `86138${String(30_000_000 + start + i * 7919).slice(-8)}`);
}

describe('a stored command', () => {
  const config = { databaseUrl: 'postgres://postgres@127.0.0.1/ledger', queueName: 'q' };

  it('is parsed with the CLI’s own flags and checked when the schedule is added', () => {
    expect(parseStoredCommand(['refresh', '--older-than', '7d'])).toEqual({
      kind: 'refresh',
      flags: { olderThan: 7 * 86_400_000 },
    });
    const bad: string[][] = [
      [],
      ['import', 'x.csv'],
      ['refresh'],
      ['refresh', '--older-than', '7d', '--bogus'],
      ['prune', '--older-than', 'soon'],
      ['enqueue-db', '--table', 'contacts'],
      ['enqueue-db', '--query', 'SELECT 1', '--table', 'contacts'],
      ['enqueue-db', '--source-url', 'postgres://crm:hunter2@db/crm', '--query', 'SELECT 1', '--space', 'S1'],
    ];
    for (const argv of bad) {
      expect(() => checkStoredCommand(parseStoredCommand(argv), config), argv.join(' ')).toThrow(
        expect.objectContaining({ code: 'USAGE', exitCode: 2 }),
      );
    }
    expect(() =>
      checkStoredCommand(
        parseStoredCommand([
          'enqueue-db',
          '--table',
          'crm.contacts',
          '--phone-column',
          'mobile',
          '--space',
          'S1',
        ]),
        config,
      ),
    ).not.toThrow();
  });

  it('takes cron expressions with a seconds field and a time zone, and refuses bad ones', () => {
    const from = new Date('2026-01-01T00:00:01Z');
    expect(nextTick('*/5 * * * * *', undefined, from).toISOString()).toBe('2026-01-01T00:00:05.000Z');
    expect(nextTick('0 2 * * *', 'Asia/Shanghai', from).toISOString()).toBe('2026-01-01T18:00:00.000Z');
    expect(() => nextTick('every night')).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => nextTick('0 2 * * *', 'Mars/Olympus')).toThrow(/--tz/);
    expect(() => nextTick('0 25 * * *')).toThrow(/--cron/);
  });
});

describe('schedule ticks', () => {
  it('skip while the previous run has pending numbers, run once per tick, and say so in the list', async () => {
    p = await startPipeline({ rate: 50 });
    connection = createRedis(redisUrl(), 'worker', p.log) as Redis;
    scheduleQueue = createScheduleQueue(p.queueName, createRedisQueueStore(connection, redisUrl()));
    scheduleQueue.on('error', () => undefined);
    const command = ['refresh', '--older-than', '7d'];
    await upsertSchedule(scheduleQueue, { name: 'nightly', cron: '0 2 * * *', tz: 'UTC', command });
    const stale = numbers(20);
    await p.pool.query(
      `INSERT INTO business_profiles (cust_space_id, phone_number, fetched_at)
       SELECT 'S1', n, now() - interval '8 days' FROM unnest($1::text[]) AS n`,
      [stale],
    );
    const deps = {
      pool: p.pool,
      log: p.log,
      config: { databaseUrl: p.db.url, queueName: p.queueName },
      isActive: () => Promise.resolve(false),
    };
    const tick = (at: number): TickJob => ({
      id: `repeat:nightly:${at}`,
      data: { command },
      timestamp: at,
      repeatJobKey: 'nightly',
      opts: { prevMillis: at },
    });

    const t1 = await runTick(deps, tick(1_000));
    expect(t1).toMatchObject({ outcome: 'started' });
    const runId = (t1 as { runId: number }).runId;
    // No worker yet: the run keeps its 20 pending numbers, so the next tick starts no second copy.
    expect(await runTick(deps, tick(2_000))).toEqual({
      outcome: 'skipped',
      runId,
      reason: `run ${runId} still has 20 pending numbers`,
    });
    // A tick delivered twice is carried out once.
    expect(await runTick(deps, tick(1_000))).toEqual({ outcome: 'replay' });
    // The same schedule name and tick on another queue sharing the ledger is a tick of its own.
    const other = { ...deps, config: { ...deps.config, queueName: `${p.queueName}-other` } };
    const elsewhere = await runTick(other, tick(1_000));
    expect(elsewhere).toMatchObject({ outcome: 'started' });
    const otherRun = await p.pool.query<{ queue: string; source: string }>(
      'SELECT queue, source FROM runs WHERE id = $1',
      [(elsewhere as { runId: number }).runId],
    );
    expect(otherRun.rows).toEqual([{ queue: `${p.queueName}-other`, source: 'schedule:nightly' }]);

    const [listed] = await listSchedules(scheduleQueue, p.pool, p.queueName);
    expect(listed).toMatchObject({
      name: 'nightly',
      cron: '0 2 * * *',
      tz: 'UTC',
      command,
      lastTick: { outcome: 'skipped', runId },
      lastRun: { run: runId, source: 'schedule:nightly', pending: 20, finished: false },
      skippedTicks: 1,
    });
    expect(Date.parse(listed!.next!)).toBeGreaterThan(Date.now());

    await createFeeder({ pool: p.pool, queue: p.queue, log: p.log, jobOptions: { attempts: 3 } }).fill();
    p.startWorkers(2);
    expect(await p.waitFinished(runId)).toMatchObject({ enriched: 20, source: 'schedule:nightly' });
    // Every stale profile is fresh now: the next tick finds nothing to refresh and makes no empty run.
    const t3 = await runTick(deps, tick(3_000));
    expect(t3).toMatchObject({
      outcome: 'done',
      runId: null,
      summary: expect.stringContaining('nothing to refresh: no stored profile is older than 1w'),
    });
    const runs = await p.pool.query(`SELECT id FROM runs WHERE source = 'schedule:nightly' AND queue = $1`, [
      p.queueName,
    ]);
    expect(runs.rowCount).toBe(1);

    // While an earlier tick is still reading its source (no run yet) in a live worker, a tick waits too.
    const prune = ['prune', '--older-than', '30d'];
    const pruneTick = (at: number): TickJob => ({
      ...tick(at),
      id: `repeat:prune:${at}`,
      repeatJobKey: 'prune',
      data: { command: prune },
    });
    await p.pool.query(
      `INSERT INTO schedule_ticks (queue, schedule, job_id, tick_at, outcome)
       VALUES ($1, 'prune', 'repeat:prune:1', now(), 'running')`,
      [p.queueName],
    );
    const live = { ...deps, isActive: (id: string) => Promise.resolve(id === 'repeat:prune:1') };
    expect(await runTick(live, pruneTick(2))).toMatchObject({ outcome: 'skipped', runId: null });
    expect(await runTick(deps, pruneTick(3))).toMatchObject({ outcome: 'done', runId: null });
    const ticks = await latestTicks(p.pool, p.queueName, ['prune']);
    expect(ticks.get('prune')?.last).toMatchObject({
      outcome: 'done',
      message: expect.stringContaining('pruned'),
    });
  }, 60_000);

  it('added without --tz keep the zone of the machine that added them, shown by schedule list', async () => {
    p = await startPipeline();
    const shanghai = { TZ: 'Asia/Shanghai' };
    const add = (name: string, env: NodeJS.ProcessEnv, ...zone: string[]) =>
      runCli(
        p!,
        ['schedule', 'add', name, '--cron', '0 2 * * *', ...zone, '--', 'refresh', '--older-than', '7d'],
        env,
      );
    const added = await Promise.all([
      add('from-shanghai', shanghai),
      add('from-utc', { TZ: 'UTC' }),
      add('given', shanghai, '--tz', 'Europe/Berlin'),
    ]);
    for (const a of added) expect(a, a.stderr).toMatchObject({ code: 0 });
    // Listed from a machine in another zone: each keeps the zone it was added with.
    const list = await runCli(p, ['schedule', 'list', '--json'], { TZ: 'America/New_York' });
    const zones = Object.fromEntries(
      (
        JSON.parse(list.stdout) as { schedules: Array<{ name: string; tz: string; next: string }> }
      ).schedules.map((s) => [s.name, s.tz]),
    );
    expect(zones).toEqual({ 'from-shanghai': 'Asia/Shanghai', 'from-utc': 'UTC', given: 'Europe/Berlin' });
    const text = await runCli(p, ['schedule', 'list'], { TZ: 'America/New_York' });
    expect(text.stdout).toContain('from-shanghai: 0 2 * * * (Asia/Shanghai)');
    // 02:00 in Shanghai is 18:00 UTC, wherever the schedule is read.
    const next = (
      JSON.parse(list.stdout) as { schedules: Array<{ name: string; next: string }> }
    ).schedules.find((s) => s.name === 'from-shanghai')!.next;
    expect(new Date(next).getUTCHours()).toBe(18);
  });

  it('fire on a seconds-level cron in two worker processes: one run per tick, listed by status', async () => {
    p = await startPipeline({ rate: 10 });
    const pipeline = p;
    const workers = [startWorkerProcess(p), startWorkerProcess(p)];
    // Each tick's run reads one row, not a number: the run is finished at once, so no tick is skipped.
    const command = ['enqueue-db', '--query', 'SELECT 0 AS phone_number', '--space', 'S1'];
    const added = await runCli(p, ['schedule', 'add', 'every5', '--cron', '*/5 * * * * *', '--', ...command]);
    expect(added).toMatchObject({ code: 0 });
    // The command is echoed quoted, so it can be pasted back into a shell.
    expect(added.stdout).toContain(
      "schedule every5: enqueue-db --query 'SELECT 0 AS phone_number' --space S1; deadline 10m; next tick",
    );
    const bad = await runCli(p, [
      'schedule',
      'add',
      'broken',
      '--cron',
      '*/5 * * * * *',
      '--',
      'import',
      'x.csv',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('a schedule runs one of enqueue-db, refresh, prune');

    type TickRow = { job_id: string; tick_at: Date; outcome: string; run_id: string | null };
    const settled = async () =>
      (
        await pipeline.pool.query<TickRow>(
          `SELECT job_id, tick_at, outcome, run_id FROM schedule_ticks WHERE schedule = 'every5' AND outcome <> 'running' ORDER BY tick_at`,
        )
      ).rows;
    const deadline = Date.now() + 60_000;
    let ticks = await settled();
    const startedTicks = () => ticks.filter((t) => t.outcome === 'started');
    while (startedTicks().length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      ticks = await settled();
    }
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
    expect(startedTicks().length).toBeGreaterThanOrEqual(3);
    const list = await runCli(p, ['schedule', 'list', '--json']);
    const [every5] = (JSON.parse(list.stdout) as { schedules: Array<Record<string, unknown>> }).schedules;
    expect(every5).toMatchObject({
      name: 'every5',
      cron: '*/5 * * * * *',
      command,
      timeoutMs: 600_000,
      lastRun: { source: 'schedule:every5' },
    });
    expect((await runCli(p, ['schedule', 'remove', 'every5'])).code).toBe(0);
    expect((await runCli(p, ['schedule', 'remove', 'every5'])).code).toBe(2);
    // No more ticks: wait for one in progress to be recorded, then compare every tick with every run.
    while ((await pipeline.pool.query(`SELECT 1 FROM schedule_ticks WHERE outcome = 'running'`)).rowCount) {
      await new Promise((r) => setTimeout(r, 100));
    }
    ticks = await settled();
    // Each tick once, on the 5-second grid, each with a run of its own, and no run that is not a tick's.
    expect(new Set(ticks.map((t) => t.job_id)).size).toBe(ticks.length);
    expect(new Set(ticks.map((t) => t.tick_at.getTime())).size).toBe(ticks.length);
    expect(ticks.every((t) => t.tick_at.getTime() % 5000 === 0)).toBe(true);
    // A tick that comes while the previous one is still reading its source (a slow machine) is skipped;
    // every other one started a run of its own.
    expect(
      ticks.every((t) => t.outcome === 'skipped' || (t.outcome === 'started' && t.run_id !== null)),
    ).toBe(true);
    const runs = await p.pool.query<{ id: string }>(
      `SELECT id FROM runs WHERE source = 'schedule:every5' ORDER BY id`,
    );
    expect(runs.rows.map((r) => r.id)).toEqual(startedTicks().map((t) => t.run_id));

    const status = await runCli(p, ['status', '--json']);
    const listed = (JSON.parse(status.stdout) as { runs: Array<{ run: number; source: string }> }).runs;
    for (const t of startedTicks()) {
      expect(listed.find((r) => r.run === Number(t.run_id))).toMatchObject({ source: 'schedule:every5' });
    }
  }, 120_000);
});
