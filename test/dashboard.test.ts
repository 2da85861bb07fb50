/**
 * The dashboard's HTTP surface against real PostgreSQL and Redis: every endpoint, every access rule,
 * readiness with a service gone, and no full phone number in any answer.
 */
import { createRedisQueueStore } from '../src/queue/redis-queue-store.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createRedis } from '../src/queue/queue.js';
import { assertBindable, isLoopback, presentedToken } from '../src/dashboard/access.js';
import type { Dashboard } from '../src/dashboard/server.js';
import { createDashboard } from '../src/dashboard/server.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { pipelineDashboard } from './helpers/dashboard.js';
import { assertBuilt, killAll, startCli } from './helpers/processes.js';

let p: Pipeline | undefined;
let dashboards: Dashboard[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  for (const d of dashboards) d.close();
  dashboards = [];
  for (const c of cleanups.splice(0)) await c();
  await p?.close();
  p = undefined;
});

const TOKEN = 'a-long-dashboard-token-for-tests';

function dashboardOf(pipeline: Pipeline, token?: string, rate = 10): Dashboard {
  const d = pipelineDashboard(pipeline, {
    env: { CAMS_RATE_LIMIT: String(rate), ...(token ? { DASHBOARD_TOKEN: token } : {}) },
    sampleMs: 200,
  });
  dashboards.push(d);
  return d;
}

const bearer = { authorization: `Bearer ${TOKEN}` };
const basic = { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` };

/** Numbers as imported, to search every answer for. */
function numbers(n: number, start = 11_000_000): string[] {
  return Array.from({ length: n }, (_, i) => `4479${String(start + i * 37).slice(-8)}`);
}

describe('dashboard endpoints', () => {
  it('answers /healthz, /readyz, /, /queues and /api/runs on loopback without a token', async () => {
    p = await startPipeline();
    const { app } = dashboardOf(p);
    expect(await (await app.request('/healthz')).text()).toBe('ok\n');
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(200);
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('api/runs');
    const board = await app.request('/queues');
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('cams-enrich');
    const api = await app.request('/api/runs');
    expect(api.status).toBe(200);
    const view = (await api.json()) as {
      runs: unknown[];
      queue: { name: string; workers: number };
      canAct: boolean;
    };
    expect(view).toMatchObject({ runs: [], queue: { name: p.queueName, workers: 0 }, canAct: false });
  });

  it('turns /readyz to 503 naming PostgreSQL or Redis when one does not answer', async () => {
    p = await startPipeline();
    const deadPool = createPool('postgres://postgres@127.0.0.1:1/nowhere', p.log, { max: 1 });
    const deadRedis = createRedis('redis://127.0.0.1:1', 'producer', p.log);
    cleanups.push(
      () => deadPool.end(),
      async () => deadRedis.disconnect(),
    );
    const config = loadConfig({ DATABASE_URL: p.db.url, CAMS_QUEUE: p.queueName });
    const base = { config, queue: p.queue, log: p.log, readyTimeoutMs: 1500 };

    const noPg = createDashboard({ ...base, pool: deadPool, store: p.store });
    const noRedis = createDashboard({
      ...base,
      pool: p.pool,
      store: createRedisQueueStore(deadRedis, 'redis://127.0.0.1:1'),
    });
    dashboards.push(noPg, noRedis);
    const a = await noPg.app.request('/readyz');
    expect(a.status).toBe(503);
    const aText = await a.text();
    expect(aText).toMatch(/^not ready: PostgreSQL: ECONNREFUSED/);
    expect(aText).not.toContain('Redis');
    const b = await noRedis.app.request('/readyz');
    expect(b.status).toBe(503);
    expect(await b.text()).toMatch(/^not ready: Redis: /);
    // Liveness does not depend on the services.
    expect((await noPg.app.request('/healthz')).status).toBe(200);
  });

  it('shows a run with its accounting, failures grouped by code with masked numbers, and /metrics moving', async () => {
    p = await startPipeline({
      rate: 20,
      simulator: {
        faults: [
          { match: '^44791100', answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' } },
        ],
      },
    });
    const nums = numbers(30);
    const failing = nums.filter((n) => n.startsWith('44791100'));
    expect(failing.length).toBeGreaterThan(0);
    const file = await p.csv('run.csv', 'phone\n' + [...nums, nums[0]].map((n) => `+${n}`).join('\n') + '\n');
    const runId = await p.importFile(file);
    const { app } = dashboardOf(p, undefined, 20);

    const before = await (await app.request('/metrics')).text();
    // Every job carries its run's priority (BullMQ's prioritized state).
    expect(before).toMatch(/bullmq_job_count\{queue="[^"]+", state="prioritized"\} 30/);
    expect(before).toContain('cams_enrich_runs{phase="running"} 1');
    expect(before).toContain(`cams_enrich_run_pending{run="${runId}",phase="running",priority="normal"} 30`);
    expect(before).toContain('cams_enrich_numbers_pending 30');
    expect(before).toContain('cams_enrich_workers_connected 0');

    const [worker] = p.startWorkers(1);
    const done = await p.waitFinished(runId);
    expect(done).toMatchObject({
      total: 31,
      duplicate: 1,
      failed: failing.length,
      enriched: 30 - failing.length,
    });

    const res = await app.request('/api/runs');
    const text = await res.text();
    for (const n of nums) expect(text).not.toContain(n);
    const view = JSON.parse(text) as {
      queue: { workers: number };
      runs: Array<{
        run: number;
        callsMade: number;
        callsSaved: number;
        failures: Array<{ code: string; count: number; examples: string[] }>;
      }>;
    };
    expect(view.queue.workers).toBe(1);
    const run = view.runs.find((r) => r.run === runId);
    expect(run).toMatchObject({ callsMade: 30, callsSaved: 1 });
    expect(run?.failures).toEqual([
      { code: 'Unknown.ResourceOwnerId', count: failing.length, examples: expect.any(Array) as unknown },
    ]);
    expect(run?.failures[0]?.examples[0]).toMatch(/^4479\*+\d\d$/);

    // A worker that stops folds its counters into the retired snapshot: the fleet keeps every call.
    await worker?.close();
    const after = await (await app.request('/metrics')).text();
    expect(after).toContain(`cams_enrich_cams_calls_total{code="OK"} ${30 - failing.length}`);
    expect(after).toContain(`cams_enrich_cams_calls_total{code="Unknown.ResourceOwnerId"} ${failing.length}`);
    expect(after).toContain(`cams_enrich_cams_call_duration_seconds_count ${p.sim.counters().calls}\n`);
    expect(after).toMatch(/bullmq_job_completed_total\{queue="[^"]+"\} \d+/);
    expect(after).toContain('cams_enrich_numbers_pending 0');
    // The fleet's rate controller, read from Redis: the quota, and the rate it allows itself (at most the quota).
    expect(after).toContain('cams_enrich_quota_per_second 20\n');
    const allowed = Number(/^cams_enrich_rate_limit_per_second (\S+)$/m.exec(after)?.[1]);
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThanOrEqual(20);
    expect(after).toMatch(/^cams_enrich_backoff_seconds \d/m);
    for (const n of nums) expect(after).not.toContain(n);
  });
});

describe('dashboard access', () => {
  it('is read-only without a token: GET works, the resume action and Bull Board actions are refused', async () => {
    p = await startPipeline();
    await p.queue.pause();
    const { app } = dashboardOf(p);
    const resume = await app.request('/api/resume', { method: 'POST' });
    expect(resume.status).toBe(403);
    expect(await p.queue.isPaused()).toBe(true);
    const boardResume = await app.request(`/queues/api/queues/${p.queueName}/resume`, { method: 'PUT' });
    expect(boardResume.status).toBe(403);
    expect(await p.queue.isPaused()).toBe(true);
    const queues = (await (await app.request('/queues/api/queues')).json()) as {
      queues: Array<{ readOnlyMode: boolean }>;
    };
    expect(queues.queues[0]?.readOnlyMode).toBe(true);
  });

  it('with a token, answers 401 to a request without it or with a wrong one, on every route', async () => {
    p = await startPipeline();
    const { app } = dashboardOf(p, TOKEN);
    for (const path of [
      '/',
      '/api/runs',
      '/metrics',
      '/queues',
      '/queues/api/queues',
      '/api/runs/1/export.csv',
      '/api/runs/1/rejects.csv',
      '/api/runs/1/failures.csv',
    ]) {
      const none = await app.request(path);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate'), path).toMatch(/^Basic realm=/);
      const wrong = await app.request(path, { headers: { authorization: 'Bearer not-the-token' } });
      expect(wrong.status, path).toBe(401);
      const wrongBasic = await app.request(path, {
        headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}x`).toString('base64')}` },
      });
      expect(wrongBasic.status, path).toBe(401);
    }
    const post = await app.request('/api/resume', { method: 'POST' });
    expect(post.status).toBe(401);
    expect(await post.text()).not.toContain(TOKEN);
  });

  it('with a token, answers the probes without it by status alone, and with it in detail', async () => {
    p = await startPipeline();
    const { app } = dashboardOf(p, TOKEN);
    expect((await app.request('/healthz')).status).toBe(200);
    const bare = await app.request('/readyz');
    expect(bare.status).toBe(200);
    expect(await bare.text()).toBe('');
    const detailed = await app.request('/readyz', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(detailed.status).toBe(200);
    expect(await detailed.text()).toMatch(/^ready\n/);
    expect((await app.request('/readyz', { method: 'POST' })).status).toBe(401);
  });

  it('without a token, answers only a loopback Host header (no DNS rebinding)', async () => {
    p = await startPipeline();
    const { app } = dashboardOf(p);
    for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'localhost']) {
      expect((await app.request('/api/runs', { headers: { host } })).status, host).toBe(200);
    }
    for (const host of ['attacker.example:8080', 'attacker.example', '10.0.0.1:8080']) {
      const res = await app.request('/api/runs', { headers: { host } });
      expect(res.status, host).toBe(403);
      expect(await res.text()).toContain('DASHBOARD_TOKEN');
    }
    expect((await app.request('/healthz', { headers: { host: 'lb.internal' } })).status).toBe(200);
  });

  it('offers the export, rejects and failures of a run as CSV downloads, behind the token', async () => {
    p = await startPipeline();
    const file = await p.csv('dl.csv', 'phone\n8613800000041\nn/a\n8613800000042\n+8613800000041\n');
    const runId = await p.importFile(file);
    await p.pool.query(
      `UPDATE run_items SET state = 'failed', error_code = 'Unknown.ResourceOwnerId', error_message = 'not yours'
       WHERE run_id = $1 AND phone_number = '8613800000042'`,
      [runId],
    );
    await p.pool.query('UPDATE runs SET pending = pending - 1, failed = failed + 1 WHERE id = $1', [runId]);
    const { app } = dashboardOf(p, TOKEN);
    const get = (name: string) => app.request(`/api/runs/${runId}/${name}.csv`, { headers: bearer });
    const whole = await get('export');
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(whole.headers.get('content-disposition')).toBe(`attachment; filename="run-${runId}-export.csv"`);
    const lines = (await whole.text()).trim().split('\n');
    expect(lines.map((l) => l.split(',').slice(0, 4).join(','))).toEqual([
      'line,cust_space_id,phone_number,outcome',
      '2,S1,8613800000041,pending',
      '3,,,invalid',
      '4,S1,8613800000042,failed',
      '5,S1,8613800000041,duplicate',
    ]);
    expect((await (await get('rejects')).text()).trim().split('\n')).toEqual([
      'line,reason',
      '3,contains letters',
    ]);
    expect(await (await get('failures')).text()).toBe(
      'line,cust_space_id,phone_number,error_code,error_message\n4,S1,8613800000042,Unknown.ResourceOwnerId,not yours\n',
    );
    expect((await app.request('/api/runs/999/export.csv', { headers: bearer })).status).toBe(404);
    expect((await app.request(`/api/runs/${runId}/export.csv`)).status).toBe(401);
  });

  it('with a token, accepts it as a bearer header or basic auth, and allows the resume action', async () => {
    p = await startPipeline();
    const { app } = dashboardOf(p, TOKEN);
    expect((await app.request('/api/runs', { headers: bearer })).status).toBe(200);
    expect((await app.request('/metrics', { headers: basic })).status).toBe(200);
    const view = (await (await app.request('/api/runs', { headers: basic })).json()) as { canAct: boolean };
    expect(view.canAct).toBe(true);
    const page = await (await app.request('/', { headers: bearer })).text();
    expect(page).not.toContain(TOKEN);

    await p.queue.pause();
    const crossSite = await app.request('http://dash.test/api/resume', {
      method: 'POST',
      headers: { ...basic, host: 'dash.test', origin: 'http://evil.test' },
    });
    expect(crossSite.status).toBe(403);
    expect(await p.queue.isPaused()).toBe(true);
    const resume = await app.request('http://dash.test/api/resume', {
      method: 'POST',
      headers: { ...basic, host: 'dash.test', origin: 'http://dash.test' },
    });
    expect(resume.status).toBe(200);
    expect(await resume.json()).toMatchObject({ queue: p.queueName, resumed: true });
    expect(await p.queue.isPaused()).toBe(false);
  });

  it('the command exits 2 with one line for --host 0.0.0.0 without DASHBOARD_TOKEN, before touching a service', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x',
      REDIS_URL: 'redis://127.0.0.1:1',
    };
    delete env.DASHBOARD_TOKEN;
    const cli = startCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], env);
    expect((await cli.exited).code).toBe(2);
    expect(cli.stderr()).toBe(
      'cams-enrich: refusing to listen on 0.0.0.0 without DASHBOARD_TOKEN: set it, or leave --host at 127.0.0.1\n',
    );
  });

  it('refuses to bind beyond loopback without a token, with a usage error', () => {
    expect(() => assertBindable('0.0.0.0', undefined)).toThrow(/DASHBOARD_TOKEN/);
    expect(() => assertBindable('192.168.1.5', undefined)).toThrow(expect.objectContaining({ exitCode: 2 }));
    const config = loadConfig({ DASHBOARD_TOKEN: TOKEN });
    expect(() => assertBindable('0.0.0.0', config.dashboardToken)).not.toThrow();
    expect(() => assertBindable('127.0.0.1', undefined)).not.toThrow();
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.com'].some(isLoopback)).toBe(false);
  });

  it('reads the token from a bearer header or from basic auth password only', () => {
    expect(presentedToken('Bearer abc')).toBe('abc');
    expect(presentedToken(`Basic ${Buffer.from('u:p:q').toString('base64')}`)).toBe('p:q');
    expect(presentedToken(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
    expect(presentedToken('Digest abc')).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
  });
});
