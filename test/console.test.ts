/**
 * The console in a real headless browser (Debian's chromium driven by playwright-core) against real
 * PostgreSQL and Redis: the runs list's filters and paging over 200 runs, a running run's page whose
 * progress moves, and the token rule (a page opened as http://user:TOKEN@host/ works; without the token
 * no action is possible), cancel and priority from a run's page, and the schedules page with a schedule
 * ticking every two seconds. The runs are written by SQL where only the list is under test.
 * `npm run screenshots` runs it with CONSOLE_SCREENSHOTS=docs to save the pages for the docs.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Dashboard, Listening } from '../src/dashboard/server.js';
import { listen } from '../src/dashboard/server.js';
import { raiseAlert } from '../src/db/ledger.js';
import type { TestSchedules } from './helpers/dashboard.js';
import { actionPaths, addOftenSchedule, openTestSchedules, pipelineDashboard } from './helpers/dashboard.js';
import { packageVersion } from '../src/package-root.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pipelineEnv, startCli } from './helpers/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'console-test-token-0123456789';
let p: Pipeline | undefined;
let dashboard: Dashboard | undefined;
let server: Listening | undefined;
let browser: Browser | undefined;
let scheduling: TestSchedules | undefined;
/** With CONSOLE_SCREENSHOTS=<dir> (`npm run screenshots`), each page is saved there at 1280×800. */
const SHOTS = process.env.CONSOLE_SCREENSHOTS;
async function screenshot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}` });
}

beforeAll(() => {
  assertBuilt();
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)`);
});

afterEach(async () => {
  await killAll();
  await scheduling?.close();
  scheduling = undefined;
  await browser?.close();
  await server?.close();
  dashboard?.close();
  await p?.close();
  browser = server = dashboard = p = undefined;
});

async function serve(pipeline: Pipeline, env: Record<string, string> = {}): Promise<Listening> {
  dashboard = pipelineDashboard(pipeline, { env: { CAMS_RATE_LIMIT: '10', ...env }, sampleMs: 500 });
  server = await listen(dashboard.app, '127.0.0.1', 0);
  return server;
}

async function newPage(): Promise<Page> {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  return browser.newPage({ viewport: { width: 1280, height: 800 } });
}

/**
 * 200 finished or open runs of the queue written directly: run i is `csv:file-i.csv` for i % 4 = 0,
 * `db:crm.contacts` for 1, `refresh` for 2, `schedule:nightly` for 3; space `space-a` for even i,
 * `space-b` for odd; priority high every fifth; cancelled every seventh, finished otherwise.
 */
async function seedRuns(pipeline: Pipeline, count: number): Promise<number[]> {
  const { rows } = await pipeline.pool.query<{ id: string }>(
    `INSERT INTO runs (queue, source, state, priority, space, max_age, total, enriched, cancelled, created_at, finished_at)
     SELECT $1,
            CASE i % 4 WHEN 0 THEN 'csv:file-' || i || '.csv' WHEN 1 THEN 'db:crm.contacts' WHEN 2 THEN 'refresh'
                       ELSE 'schedule:nightly' END,
            CASE WHEN i % 7 = 0 THEN 'cancelled' ELSE 'ready' END,
            CASE WHEN i % 5 = 0 THEN 'high' ELSE 'normal' END,
            CASE WHEN i % 2 = 0 THEN 'space-a' ELSE 'space-b' END,
            interval '0', 10,
            CASE WHEN i % 7 = 0 THEN 4 ELSE 10 END, CASE WHEN i % 7 = 0 THEN 6 ELSE 0 END,
            now() - make_interval(mins => $2 - i), now() - make_interval(mins => $2 - i) + interval '30 seconds'
     FROM generate_series(1, $2) AS i ORDER BY i
     RETURNING id`,
    [pipeline.queueName, count],
  );
  return rows.map((r) => Number(r.id));
}

const rowIds = async (page: Page): Promise<number[]> =>
  (await page.locator('#runs tr.run').evaluateAll((trs) => trs.map((tr) => tr.id))).map((id) =>
    Number(id.replace('run-', '')),
  );

describe('the console in a browser', () => {
  it('lists 200 runs 50 a page, newest first, and filters them by state, source, space and priority', async () => {
    p = await startPipeline();
    const ids = await seedRuns(p, 200);
    const newestFirst = [...ids].sort((a, b) => b - a);
    const url = (await serve(p)).url;
    const page = await newPage();
    await page.goto(`${url}/`);
    await expect.poll(() => rowIds(page), { timeout: 20_000 }).toEqual(newestFirst.slice(0, 50));
    expect(await page.textContent('#page-info')).toContain('page 1 of 4 · 200 runs');
    expect(await page.isDisabled('#prev')).toBe(true);
    // For the picture, the fleet's chart once it has two samples.
    if (SHOTS)
      await expect.poll(() => page.locator('#chart-note').textContent(), { timeout: 20_000 }).toMatch(/now/);
    await screenshot(page, 'console-runs.png');

    await page.click('#next');
    await expect.poll(() => rowIds(page)).toEqual(newestFirst.slice(50, 100));
    await page.click('#next');
    await page.click('#next');
    await expect.poll(() => rowIds(page)).toEqual(newestFirst.slice(150, 200));
    expect(await page.isDisabled('#next')).toBe(true);
    expect(page.url()).toContain('page=4');

    // The filters, each against the same rule the seed used.
    const index = new Map(ids.map((id, i) => [id, i + 1]));
    const expectFilter = async (rule: (i: number) => boolean) => {
      const want = newestFirst.filter((id) => rule(index.get(id)!));
      await expect.poll(() => rowIds(page)).toEqual(want.slice(0, 50));
      expect(await page.textContent('#page-info')).toContain(
        `${want.length} run${want.length === 1 ? '' : 's'} match`,
      );
    };
    await page.selectOption('#f-state', 'cancelled');
    await expectFilter((i) => i % 7 === 0);
    expect(page.url()).not.toContain('page=');
    const phases = await page
      .locator('#runs tr.run')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-phase')));
    expect(new Set(phases)).toEqual(new Set(['cancelled']));
    await page.selectOption('#f-state', 'finished');
    await expectFilter((i) => i % 7 !== 0);
    await page.selectOption('#f-priority', 'high');
    await expectFilter((i) => i % 7 !== 0 && i % 5 === 0);
    await page.click('#f-clear');
    await page.fill('#f-source', 'schedule:nightly');
    await page.press('#f-source', 'Enter');
    await expectFilter((i) => i % 4 === 3);
    await page.fill('#f-source', 'csv');
    await page.press('#f-source', 'Enter');
    await expectFilter((i) => i % 4 === 0);
    await page.fill('#f-space', 'space-b');
    await page.press('#f-space', 'Enter');
    await expectFilter(() => false);
    expect(await page.textContent('#empty')).toBe('no run matches this filter');
    await page.fill('#f-source', 'database');
    await page.press('#f-source', 'Enter');
    await expectFilter((i) => i % 4 === 1);

    // A filtered view is its URL: opened again, it shows the same runs.
    const again = await newPage();
    await again.goto(page.url());
    await expect.poll(() => rowIds(again)).toEqual(await rowIds(page));

    // Times are shown in the viewer's local time, with the ISO time kept in the element.
    const time = page.locator('#runs tr.run time').first();
    const iso = (await time.getAttribute('datetime'))!;
    const local = await page.evaluate(
      (t) =>
        new Date(t).toLocaleString([], {
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        }),
      iso,
    );
    expect(await time.textContent()).toBe(local);

    const bad = await fetch(`${url}/api/runs?state=sleeping`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'USAGE' });
  });

  it("shows a running run's page moving, opened as http://user:TOKEN@host/, with numbers masked", async () => {
    p = await startPipeline({ rate: 10 });
    const numbers = Array.from({ length: 60 }, (_, i) => `4479${String(14_000_000 + i * 41).slice(-8)}`);
    const file = await p.csv(
      'console.csv',
      'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\nnot-a-number 12345678\n',
    );
    const runId = await p.importFile(file, { space: 'space-x' });
    const base = new URL((await serve(p, { DASHBOARD_TOKEN: TOKEN })).url);
    const page = await newPage();
    await page.goto(`http://admin:${TOKEN}@${base.host}/runs/${runId}`);
    const summary = page.locator('#summary');
    await expect.poll(() => summary.getAttribute('data-total'), { timeout: 20_000 }).toBe('61');
    expect(await summary.getAttribute('data-phase')).toBe('running');
    expect(await page.textContent('#options')).toContain('space-x');
    expect(await page.textContent('#rejects')).toContain('not-a-number');
    expect(await page.isEnabled('#cancel')).toBe(true);

    p.startWorkers(1);
    const settled = async () => Number(await summary.getAttribute('data-settled'));
    const first = await settled();
    await expect.poll(settled, { timeout: 30_000, interval: 250 }).toBeGreaterThan(first + 1);
    await expect.poll(() => page.locator('#timeline rect').count(), { timeout: 10_000 }).toBeGreaterThan(1);
    const text = (await page.textContent('body')) ?? '';
    for (const n of numbers) expect(text).not.toContain(n);
    expect(text).not.toContain('12345678');

    // status --run names the page when DASHBOARD_URL says where the dashboard is.
    const status = startCli(
      ['status', '--run', String(runId)],
      pipelineEnv(p, { DASHBOARD_URL: `${base.origin}/` }),
    );
    expect((await status.exited).code).toBe(0);
    expect(status.stdout()).toContain(`  page: ${base.origin}/runs/${runId}\n`);

    // From the list, the run links to its page; the list too works with the token in the URL.
    await page.goto(`http://admin:${TOKEN}@${base.host}/`);
    await page.locator(`#run-${runId} a`).first().waitFor({ timeout: 20_000 });
    expect(await page.locator(`#run-${runId} td`).nth(2).textContent()).toBe('space-x');
    await page.click(`#run-${runId} a`);
    await page.waitForURL(new RegExp(`/runs/${runId}$`));
    await expect.poll(() => summary.getAttribute('data-total'), { timeout: 20_000 }).toBe('61');
  });

  it('without the token, the pages show no action to take and no action endpoint answers 2xx', async () => {
    p = await startPipeline();
    const file = await p.csv('ro.csv', 'phone\n+447900000101\n+447900000102\n');
    const runId = await p.importFile(file);
    const url = (await serve(p)).url;
    const page = await newPage();
    await page.goto(`${url}/runs/${runId}`);
    await expect
      .poll(() => page.locator('#summary').getAttribute('data-total'), { timeout: 20_000 })
      .toBe('2');
    for (const id of ['#cancel', '#set-priority', '#retry-failed'])
      expect(await page.isDisabled(id)).toBe(true);
    await page.goto(`${url}/`);
    await page.locator('#pause').waitFor({ timeout: 20_000 });
    expect(await page.isDisabled('#pause')).toBe(true);
    for (const path of actionPaths(runId)) {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"level":"high","reason":"x"}',
      });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
    }
    expect(await p.queue.isPaused()).toBe(false);
  });

  it('shows the fleet: each worker, the controller against the quota, throttles per minute, an alert and what to do', async () => {
    // The simulator allows 4 calls a second and the workers start at 12: CAMS throttles them.
    p = await startPipeline({ rate: 4, workerRate: 12 });
    const numbers = Array.from({ length: 120 }, (_, i) => `4479${String(15_000_000 + i * 47).slice(-8)}`);
    const runId = await p.importFile(
      await p.csv('fleet.csv', 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n'),
    );
    const url = (await serve(p)).url;
    p.startWorkers(1);
    const page = await newPage();
    await page.goto(`${url}/fleet`);
    const worker = page.locator('#workers tr.worker');
    await expect.poll(() => worker.count(), { timeout: 20_000 }).toBe(1);
    const cells = await worker.first().locator('td').allTextContents();
    expect(cells[1]).toBe(String(process.pid));
    expect(cells[2]).toBe(packageVersion());
    expect(Number(cells[3])).toBeGreaterThan(0);
    await expect
      .poll(async () => Number((await worker.first().locator('td').nth(5).textContent()) ?? 0), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0);
    await expect.poll(() => page.textContent('#controller'), { timeout: 20_000 }).toContain('calls/s');
    await expect
      .poll(
        async () =>
          Number(/· (\d+) in all/.exec((await page.textContent('#throttles-note')) ?? '')?.[1] ?? 0),
        {
          timeout: 30_000,
        },
      )
      .toBeGreaterThan(0);
    expect(await page.locator('#throttles-chart rect[style*="series2"]').count()).toBeGreaterThan(0);
    expect(await page.textContent('#throttles-chart')).toContain('throttles/min');
    await screenshot(page, 'console-fleet.png');
    // The run's own timeline has its throttles, second by second.
    await expect
      .poll(
        async () =>
          ((await (await fetch(`${url}/api/runs/${runId}`)).json()) as { throttles: unknown[] }).throttles
            .length,
        {
          timeout: 20_000,
        },
      )
      .toBeGreaterThan(0);

    await raiseAlert(p.pool, p.queueName, 'Ram.PermissionDeny', 'You are not authorized to do this action.');
    await p.queue.pause();
    await page.locator('#account-alert').waitFor({ timeout: 20_000 });
    const alert = (await page.textContent('#account-alert')) ?? '';
    expect(alert).toContain('Ram.PermissionDeny');
    expect(alert).toContain('What to do: ');
    expect(alert).toContain('RAM user');
  });

  it("changes a run's priority and cancels it from its page, with the token; a second cancel is harmless", async () => {
    p = await startPipeline({ rate: 5 });
    const numbers = Array.from({ length: 80 }, (_, i) => `4479${String(16_000_000 + i * 53).slice(-8)}`);
    const runId = await p.importFile(
      await p.csv('act.csv', 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n'),
    );
    const base = new URL((await serve(p, { DASHBOARD_TOKEN: TOKEN })).url);
    p.startWorkers(1);
    const page = await newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`http://admin:${TOKEN}@${base.host}/runs/${runId}`);
    const summary = page.locator('#summary');
    await expect.poll(() => summary.getAttribute('data-phase'), { timeout: 20_000 }).toBe('running');
    await expect
      .poll(async () => Number(await summary.getAttribute('data-settled')), { timeout: 30_000 })
      .toBeGreaterThan(0);
    await screenshot(page, 'console-run.png');

    await page.selectOption('#priority', 'high');
    await page.click('#set-priority');
    await expect.poll(() => page.textContent('#action-result')).toBe('priority set to high');
    await expect.poll(() => page.textContent('#title')).toContain('priority high');
    const [row] = (
      await p.pool.query<{ priority: string }>('SELECT priority FROM runs WHERE id = $1', [runId])
    ).rows;
    expect(row?.priority).toBe('high');

    await page.click('#cancel');
    await expect.poll(() => summary.getAttribute('data-phase'), { timeout: 20_000 }).toBe('cancelled');
    expect(await page.isDisabled('#cancel')).toBe(true);
    // Cancelling again, as a second click would, changes nothing and is not an error.
    const again = await fetch(`${base.origin}/api/runs/${runId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(again.status).toBe(200);
    const status = (await (
      await fetch(`${base.origin}/api/runs/${runId}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { run: { phase: string; cancelled: number } };
    expect(status.run.phase).toBe('cancelled');
    expect(status.run.cancelled).toBeGreaterThan(0);
    // The run's audit entries: what was done, from where, through the dashboard.
    await page.reload();
    await expect.poll(() => page.textContent('#audit'), { timeout: 20_000 }).toContain('cancel');
    const audit = (await page.textContent('#audit')) ?? '';
    expect(audit).toContain('priority');
    expect(audit).toContain('dashboard');
  });

  it('shows a seconds-level schedule with its ticks as they come, disables, enables and runs it now', async () => {
    p = await startPipeline();
    scheduling = openTestSchedules(p);
    await addOftenSchedule(scheduling);
    const base = new URL((await serve(p, { DASHBOARD_TOKEN: TOKEN })).url);
    const page = await newPage();
    await page.goto(`http://admin:${TOKEN}@${base.host}/schedules`);
    const card = page.locator('#schedule-often');
    const count = async () => Number((await card.getAttribute('data-ticks')) ?? 0);
    await expect.poll(count, { timeout: 30_000 }).toBeGreaterThan(0);
    const text = (await card.textContent()) ?? '';
    expect(text).toContain('Every 2 seconds');
    expect(text).toContain('*/2 * * * * *');
    expect(text).toContain('UTC');
    // A tick shows what it did once it ends (the newest may still be running on a busy machine).
    await expect
      .poll(async () => (await card.locator('tr.tick').allTextContents()).join('\n'), { timeout: 30_000 })
      .toMatch(/nothing to refresh|done/);
    const first = await count();
    await expect.poll(count, { timeout: 30_000 }).toBeGreaterThan(first);
    await screenshot(page, 'console-schedules.png');

    await card.locator('button.act-disable').click();
    await expect.poll(() => card.getAttribute('data-enabled'), { timeout: 20_000 }).toBe('false');
    await card.locator('button.act-enable').click();
    await expect.poll(() => card.getAttribute('data-enabled'), { timeout: 20_000 }).toBe('true');
    await card.locator('button.act-run').click();
    await expect
      .poll(() => card.locator('tr.tick', { hasText: '(run now)' }).count(), { timeout: 30_000 })
      .toBeGreaterThan(0);
  });
});
