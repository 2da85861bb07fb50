/**
 * The admin's actions from the command line: pause with a reason, resume, priority, cancel (twice),
 * retry-failed and schedule enable/disable/run, each run as the built CLI against real servers, and
 * each recorded in the audit log with the CLI's user@host.
 */
import { hostname, userInfo } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestSchedules } from './helpers/dashboard.js';
import { openTestSchedules } from './helpers/dashboard.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pipelineEnv, startCli, waitFor } from './helpers/processes.js';

let p: Pipeline | undefined;
let scheduling: TestSchedules | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  await scheduling?.close();
  scheduling = undefined;
  await p?.close();
  p = undefined;
});

const CLI_ACTOR = `${userInfo().username}@${hostname()}`;

function numbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `86139${String(30_000_000 + start + i * 7919).slice(-8)}`);
}

async function cli(args: string[], env: NodeJS.ProcessEnv) {
  const run = startCli(args, env);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

async function json<T>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const r = await cli([...args, '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

interface AuditRow {
  action: string;
  run_id: string | null;
  schedule: string | null;
  details: Record<string, unknown>;
  actor: string;
  via: string;
}

async function auditRows(pipeline: Pipeline): Promise<AuditRow[]> {
  const { rows } = await pipeline.pool.query<AuditRow>(
    'SELECT action, run_id, schedule, details, actor, via FROM audit_log WHERE queue = $1 ORDER BY id',
    [pipeline.queueName],
  );
  return rows;
}

describe('admin actions from the CLI', () => {
  it('pause with a reason shown by status, resume, priority and cancel twice: each recorded with user@host', async () => {
    p = await startPipeline();
    const env = pipelineEnv(p);
    const run = await p.importFile(await p.csv('three.csv', 'phone\n' + numbers(3).join('\n') + '\n'));

    const paused = await json<{ paused: boolean; alert: { code: string; message: string } }>(
      ['pause', '--reason', 'CRM maintenance until 18:00'],
      env,
    );
    expect(paused).toMatchObject({ paused: true, alert: { code: 'ADMIN_PAUSE' } });
    expect(await p.queue.isPaused()).toBe(true);
    const status = await cli(['status'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('PAUSED by ADMIN_PAUSE');
    expect(status.stdout).toContain('CRM maintenance until 18:00');
    // Pausing a paused queue is harmless and says so.
    expect(await json<{ paused: boolean }>(['pause'], env)).toMatchObject({ paused: false });

    expect(await json<{ resumed: boolean; clearedAlert: string }>(['resume'], env)).toMatchObject({
      resumed: true,
      clearedAlert: 'ADMIN_PAUSE',
    });
    expect(await p.queue.isPaused()).toBe(false);

    expect(await json(['priority', String(run), 'high'], env)).toMatchObject({
      run,
      priority: 'high',
      previous: 'normal',
    });
    expect(await json(['cancel', String(run)], env)).toMatchObject({
      run,
      outcome: 'cancelled',
      cancelled: 3,
    });
    expect(await json(['cancel', String(run)], env)).toMatchObject({ run, outcome: 'already-cancelled' });
    // Refused actions change nothing and are not recorded.
    expect((await cli(['priority', '999999', 'low'], env)).code).toBe(2);

    const rows = await auditRows(p);
    expect(rows.map((r) => [r.action, r.run_id === null ? null : Number(r.run_id), r.via])).toEqual([
      ['pause', null, 'cli'],
      ['pause', null, 'cli'],
      ['resume', null, 'cli'],
      ['priority', run, 'cli'],
      ['cancel', run, 'cli'],
      ['cancel', run, 'cli'],
    ]);
    expect(rows.every((r) => r.actor === CLI_ACTOR)).toBe(true);
    expect(rows[0]!.details).toMatchObject({ reason: 'CRM maintenance until 18:00' });
    expect(rows[3]!.details).toMatchObject({ run, priority: 'high', previous: 'normal' });
    expect(rows[5]!.details).toMatchObject({ outcome: 'already-cancelled' });
  }, 60_000);

  it("retry-failed makes a new run of the run's transient failures only, at its priority, and they get enriched", async () => {
    p = await startPipeline({ rate: 50, attempts: 1 });
    const env = pipelineEnv(p);
    const all = numbers(12, 100);
    const flaky = all.slice(0, 4);
    p.sim.setFaults([{ match: `^(${flaky.join('|')})$`, answer: { kind: 'http', status: 503 } }]);
    const run = await p.importFile(await p.csv('twelve.csv', 'phone\n' + all.join('\n') + '\n'), {
      priority: 'high',
    });
    p.startWorkers(2);
    expect(await p.waitFinished(run)).toMatchObject({ enriched: 8, failed: 4 });
    // One more failure of the run that trying again cannot mend: an aborted import's.
    await p.pool.query(
      `UPDATE run_items SET error_code = 'IMPORT_ABORTED' WHERE run_id = $1 AND phone_number = $2`,
      [run, flaky[3]],
    );
    p.sim.setFaults([]);

    const retried = await json<{ from: number; run: number; numbers: number; codes: string[] }>(
      ['retry-failed', String(run)],
      env,
    );
    expect(retried).toMatchObject({ from: run, numbers: 3 });
    expect(retried.codes).not.toContain('IMPORT_ABORTED');
    const done = await p.waitFinished(retried.run);
    expect(done).toMatchObject({ total: 3, enriched: 3, source: `retry-failed:${run}`, priority: 'high' });
    const { rows: spaces } = await p.pool.query<{ cust_space_id: string }>(
      'SELECT DISTINCT cust_space_id FROM run_items WHERE run_id = $1',
      [retried.run],
    );
    expect(spaces).toEqual([{ cust_space_id: 'S1' }]);

    // Nothing left worth trying in the new run: no run is made.
    expect(await json(['retry-failed', String(retried.run)], env)).toMatchObject({
      from: retried.run,
      run: null,
    });
    expect((await cli(['retry-failed', '999999'], env)).code).toBe(2);
    const rows = await auditRows(p);
    expect(rows.map((r) => [r.action, Number(r.run_id), r.details.run])).toEqual([
      ['retry-failed', run, retried.run],
      ['retry-failed', retried.run, null],
    ]);
  }, 90_000);

  it('schedule disable stops its ticks, enable brings them back, run asks a worker for a tick now', async () => {
    p = await startPipeline();
    const env = pipelineEnv(p);
    scheduling = openTestSchedules(p);
    const added = await cli(
      [
        'schedule',
        'add',
        'yearly',
        '--cron',
        '0 3 1 1 *',
        '--tz',
        'UTC',
        '--',
        'refresh',
        '--older-than',
        '7d',
      ],
      env,
    );
    expect(added.code, added.stderr).toBe(0);

    const off = await json<{ enabled: boolean; changed: boolean }>(['schedule', 'disable', 'yearly'], env);
    expect(off).toMatchObject({ name: 'yearly', enabled: false, changed: true });
    expect(await scheduling.schedules.getJobScheduler('yearly')).toBeUndefined();
    expect(await json(['schedule', 'disable', 'yearly'], env)).toMatchObject({ changed: false });
    const listed = await json<{ schedules: Array<Record<string, unknown>> }>(['schedule', 'list'], env);
    expect(listed.schedules).toEqual([
      expect.objectContaining({
        name: 'yearly',
        enabled: false,
        next: null,
        cron: '0 3 1 1 *',
        tz: 'UTC',
        command: ['refresh', '--older-than', '7d'],
      }),
    ]);
    expect((await cli(['schedule', 'list'], env)).stdout).toContain('yearly (DISABLED)');

    // A tick now, of a disabled schedule too: a worker carries it out like a cron tick.
    scheduling.startTicks();
    const asked = await json<{ jobId: string }>(['schedule', 'run', 'yearly'], env);
    const pool = p.pool;
    const tick = await waitFor('the tick asked for', 30_000, async () => {
      const { rows } = await pool.query<{ schedule: string; outcome: string; message: string }>(
        `SELECT schedule, outcome, message FROM schedule_ticks WHERE job_id = $1 AND outcome <> 'running'`,
        [asked.jobId],
      );
      return rows[0];
    });
    expect(tick).toMatchObject({ schedule: 'yearly', outcome: 'done' });
    expect(tick.message).toContain('nothing to refresh');

    const on = await json<{ enabled: boolean; changed: boolean; next: string }>(
      ['schedule', 'enable', 'yearly'],
      env,
    );
    expect(on).toMatchObject({ enabled: true, changed: true });
    expect(Date.parse(on.next)).toBeGreaterThan(Date.now());
    expect(await scheduling.schedules.getJobScheduler('yearly')).toMatchObject({
      pattern: '0 3 1 1 *',
      tz: 'UTC',
    });
    expect(await json(['schedule', 'enable', 'yearly'], env)).toMatchObject({ changed: false });

    for (const verb of ['enable', 'disable', 'run']) {
      const missing = await cli(['schedule', verb, 'nosuch'], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('no schedule named "nosuch"');
    }
    const rows = await auditRows(p);
    expect(rows.map((r) => [r.action, r.schedule, r.via, r.actor])).toEqual([
      ['schedule-disable', 'yearly', 'cli', CLI_ACTOR],
      ['schedule-disable', 'yearly', 'cli', CLI_ACTOR],
      ['schedule-run', 'yearly', 'cli', CLI_ACTOR],
      ['schedule-enable', 'yearly', 'cli', CLI_ACTOR],
      ['schedule-enable', 'yearly', 'cli', CLI_ACTOR],
    ]);
  }, 60_000);
});
