/**
 * The dashboard's action API on a real listening server against real PostgreSQL and Redis: no action
 * endpoint answers 2xx without the token (none at all when no token is configured, loopback too); with
 * it, each action is the CLI's, answers 200 or {error, code} with 400/404/409, and is recorded in the
 * audit log with the client's address and `via: dashboard`; the schedules API and Bull Board's
 * schedules queue.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRun, markReady } from '../src/db/runs.js';
import type { Dashboard, Listening } from '../src/dashboard/server.js';
import { listen } from '../src/dashboard/server.js';
import { scheduleQueueName } from '../src/schedules/schedules.js';
import type { TestSchedules } from './helpers/dashboard.js';
import { actionPaths, addOftenSchedule, openTestSchedules, pipelineDashboard } from './helpers/dashboard.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { waitFor } from './helpers/processes.js';

let p: Pipeline | undefined;
const dashboards: Dashboard[] = [];
const servers: Listening[] = [];
let scheduling: TestSchedules | undefined;

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const d of dashboards.splice(0)) await d.close();
  await scheduling?.close();
  scheduling = undefined;
  await p?.close();
  p = undefined;
});

const TOKEN = 'a-long-dashboard-token-for-action-tests';
const bearer = { authorization: `Bearer ${TOKEN}` };

async function serve(pipeline: Pipeline, token?: string): Promise<string> {
  const d = pipelineDashboard(pipeline, { env: token ? { DASHBOARD_TOKEN: token } : {} });
  dashboards.push(d);
  const server = await listen(d.app, '127.0.0.1', 0);
  servers.push(server);
  return server.url;
}

function numbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `86137${String(40_000_000 + start + i * 7919).slice(-8)}`);
}

async function post(url: string, payload?: unknown, headers: Record<string, string> = bearer) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(payload === undefined
      ? {}
      : { body: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // A refusal of the access rules is plain text.
  }
  return { status: res.status, json, text };
}

async function get<T>(url: string, headers: Record<string, string> = bearer): Promise<T> {
  const res = await fetch(url, { headers });
  expect(res.status, url).toBe(200);
  return (await res.json()) as T;
}

async function auditCount(pipeline: Pipeline): Promise<number> {
  const { rows } = await pipeline.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
  return rows[0]!.n;
}

describe('the action API', () => {
  it('answers no action 2xx without the token: 403 with none configured (loopback too), 401 without or with a wrong one', async () => {
    p = await startPipeline();
    const run = await p.importFile(await p.csv('two.csv', 'phone\n' + numbers(2).join('\n') + '\n'));
    const open = await serve(p);
    const guarded = await serve(p, TOKEN);
    for (const path of actionPaths(run)) {
      expect((await post(open + path, { level: 'high', reason: 'x' }, {})).status, path).toBe(403);
      // A token sent to a dashboard that has none does not open it either.
      expect((await post(open + path, { level: 'high' }, bearer)).status, path).toBe(403);
      expect((await post(guarded + path, { level: 'high' }, {})).status, path).toBe(401);
      const wrong = await post(guarded + path, { level: 'high' }, { authorization: 'Bearer not-it' });
      expect(wrong.status, path).toBe(401);
    }
    expect(await auditCount(p)).toBe(0);
    expect(await p.queue.isPaused()).toBe(false);
    const { rows } = await p.pool.query<{ priority: string; state: string }>(
      'SELECT priority, state FROM runs WHERE id = $1',
      [run],
    );
    expect(rows).toEqual([{ priority: 'normal', state: 'ready' }]);
    // Reads answer on loopback without a token, and only with it on a guarded dashboard.
    expect(await get(`${open}/api/audit?run=${run}`, {})).toEqual({ entries: [] });
    expect(await get(`${open}/api/schedules`, {})).toEqual({ schedules: [] });
    expect((await fetch(`${guarded}/api/audit?run=${run}`)).status).toBe(401);
    expect((await fetch(`${guarded}/api/schedules`)).status).toBe(401);
  }, 60_000);

  it('with the token: cancel twice (the second a no-op 200), priority, pause and resume, 400/404/409, each audited with the address', async () => {
    p = await startPipeline();
    const url = await serve(p, TOKEN);
    const run = await p.importFile(await p.csv('three.csv', 'phone\n' + numbers(3, 50).join('\n') + '\n'));

    expect(await post(`${url}/api/runs/${run}/priority`, { level: 'high' })).toMatchObject({
      status: 200,
      json: { run, priority: 'high', previous: 'normal' },
    });
    expect(await post(`${url}/api/runs/${run}/priority`, { level: 'urgent' })).toMatchObject({
      status: 400,
      json: { code: 'USAGE' },
    });
    expect(await post(`${url}/api/runs/${run}/priority`, 'not json')).toMatchObject({ status: 400 });
    expect(await post(`${url}/api/runs/abc/cancel`)).toMatchObject({ status: 400, json: { code: 'USAGE' } });
    expect(await post(`${url}/api/runs/999999/cancel`)).toMatchObject({
      status: 404,
      json: { code: 'RUN_NOT_FOUND' },
    });
    const first = await post(`${url}/api/runs/${run}/cancel`);
    expect(first).toMatchObject({ status: 200, json: { run, outcome: 'cancelled', cancelled: 3 } });
    const second = await post(`${url}/api/runs/${run}/cancel`);
    expect(second).toMatchObject({ status: 200, json: { run, outcome: 'already-cancelled', cancelled: 0 } });
    const finished = await createRun(p.pool, { queue: p.queueName, source: 'csv:none.csv', maxAgeMs: 0 });
    await markReady(p.pool, finished);
    expect(await post(`${url}/api/runs/${finished}/cancel`)).toMatchObject({
      status: 409,
      json: { code: 'RUN_FINISHED' },
    });
    expect(await post(`${url}/api/runs/${run}/retry-failed`)).toMatchObject({
      status: 200,
      json: { from: run, run: null, numbers: 0 },
    });

    expect(await post(`${url}/api/queue/pause`, { reason: 'CRM import window' })).toMatchObject({
      status: 200,
      json: { paused: true, reason: 'CRM import window', alert: { code: 'ADMIN_PAUSE' } },
    });
    expect(await p.queue.isPaused()).toBe(true);
    const view = await get<{ queue: { paused: boolean; alert: { message: string } } }>(`${url}/api/runs`);
    expect(view.queue.paused).toBe(true);
    expect(view.queue.alert.message).toContain('CRM import window');
    expect(await post(`${url}/api/queue/resume`)).toMatchObject({ status: 200, json: { resumed: true } });
    expect(await p.queue.isPaused()).toBe(false);
    // The older path still resumes.
    expect(await post(`${url}/api/queue/pause`)).toMatchObject({ status: 200 });
    expect(await post(`${url}/api/resume`)).toMatchObject({ status: 200, json: { resumed: true } });

    const audit = await get<{ entries: Array<Record<string, unknown>> }>(`${url}/api/audit?run=${run}`);
    expect(audit.entries.map((e) => [e.action, e.run, e.via, e.actor])).toEqual([
      ['retry-failed', run, 'dashboard', '127.0.0.1'],
      ['cancel', run, 'dashboard', '127.0.0.1'],
      ['cancel', run, 'dashboard', '127.0.0.1'],
      ['priority', run, 'dashboard', '127.0.0.1'],
    ]);
    expect(audit.entries[1]!.details).toMatchObject({ outcome: 'already-cancelled' });
    const all = await get<{ entries: Array<{ action: string }> }>(`${url}/api/audit`);
    expect(all.entries.map((e) => e.action)).toEqual([
      'resume',
      'pause',
      'resume',
      'pause',
      'retry-failed',
      'cancel',
      'cancel',
      'priority',
    ]);
    expect(await fetch(`${url}/api/audit?run=x`, { headers: bearer }).then((r) => r.status)).toBe(400);
  }, 60_000);

  it('lists schedules with their cron in words and ticks, disables, runs now and enables them; Bull Board shows the schedules queue', async () => {
    p = await startPipeline();
    const url = await serve(p, TOKEN);
    scheduling = openTestSchedules(p);
    await addOftenSchedule(scheduling);

    interface Listed {
      schedules: Array<{
        name: string;
        cron: string;
        cronText: string;
        tz: string;
        next: string | null;
        enabled: boolean;
        ticks: Array<{
          jobId: string;
          outcome: string;
          summary: string;
          durationMs: number;
          manual: boolean;
        }>;
      }>;
    }
    const listed = await waitFor('a tick of the schedule', 30_000, async () => {
      const l = await get<Listed>(`${url}/api/schedules`);
      return l.schedules[0]?.ticks.some((t) => t.outcome === 'done') ? l : undefined;
    });
    expect(listed.schedules).toHaveLength(1);
    const often = listed.schedules[0]!;
    expect(often).toMatchObject({ name: 'often', cron: '*/2 * * * * *', tz: 'UTC', enabled: true });
    expect(often.cronText).toBe('Every 2 seconds');
    expect(Date.parse(often.next!)).toBeGreaterThan(0);
    const done = often.ticks.find((t) => t.outcome === 'done')!;
    expect(done).toMatchObject({ manual: false });
    expect(done.summary).toContain('nothing to refresh');
    expect(done.durationMs).toBeGreaterThanOrEqual(0);

    expect(await post(`${url}/api/schedules/often/disable`)).toMatchObject({
      status: 200,
      json: { name: 'often', enabled: false, changed: true, next: null },
    });
    const off = await get<Listed>(`${url}/api/schedules`);
    expect(off.schedules[0]).toMatchObject({ enabled: false, next: null });
    const asked = await post(`${url}/api/schedules/often/run`);
    expect(asked.status).toBe(200);
    const jobId = asked.json.jobId as string;
    const manual = await waitFor('the tick asked for', 30_000, async () => {
      const t = await get<{ ticks: Listed['schedules'][0]['ticks'] }>(`${url}/api/schedules/often/ticks`);
      return t.ticks.find((x) => x.jobId === jobId && x.outcome === 'done');
    });
    expect(manual.manual).toBe(true);
    expect(await post(`${url}/api/schedules/often/enable`)).toMatchObject({
      status: 200,
      json: { enabled: true, changed: true },
    });
    for (const verb of ['enable', 'disable', 'run']) {
      expect(await post(`${url}/api/schedules/nosuch/${verb}`)).toMatchObject({
        status: 404,
        json: { code: 'SCHEDULE_NOT_FOUND' },
      });
    }
    expect((await fetch(`${url}/api/schedules/nosuch/ticks`, { headers: bearer })).status).toBe(404);
    const audit = await get<{ entries: Array<Record<string, unknown>> }>(`${url}/api/audit?schedule=often`);
    expect(audit.entries.map((e) => [e.action, e.schedule, e.via])).toEqual([
      ['schedule-enable', 'often', 'dashboard'],
      ['schedule-run', 'often', 'dashboard'],
      ['schedule-disable', 'often', 'dashboard'],
    ]);

    const board = await get<{ queues: Array<{ name: string; readOnlyMode: boolean }> }>(
      `${url}/queues/api/queues`,
    );
    expect(board.queues.map((q) => q.name).sort()).toEqual(
      [p.queueName, scheduleQueueName(p.queueName)].sort(),
    );
    const open = await serve(p);
    const readOnly = await get<{ queues: Array<{ name: string; readOnlyMode: boolean }> }>(
      `${open}/queues/api/queues`,
      {},
    );
    expect(readOnly.queues.map((q) => q.readOnlyMode)).toEqual([true, true]);
  }, 90_000);
});
