/**
 * The runs page and Bull Board in a real headless browser (Debian's chromium driven by
 * playwright-core): the page shows a run's progress moving while a worker works, and the link to the
 * queue opens Bull Board on it. With DASHBOARD_SCREENSHOT=<file.png> it also saves the runs page.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Dashboard, Listening } from '../src/dashboard/server.js';
import { listen } from '../src/dashboard/server.js';
import { pipelineDashboard } from './helpers/dashboard.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';

const CHROMIUM = '/usr/bin/chromium';
let p: Pipeline | undefined;
let dashboard: Dashboard | undefined;
let server: Listening | undefined;
let browser: Browser | undefined;

beforeAll(() => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)`);
});

afterEach(async () => {
  await browser?.close();
  await server?.close();
  dashboard?.close();
  await p?.close();
  browser = server = dashboard = p = undefined;
});

describe('the runs page in a browser', () => {
  it('shows a run moving while a worker works, and opens the queue in Bull Board', async () => {
    p = await startPipeline({ rate: 10 });
    const numbers = Array.from({ length: 80 }, (_, i) => `4479${String(13_000_000 + i * 43).slice(-8)}`);
    const file = await p.csv('browser.csv', 'phone\n' + numbers.map((n) => `+${n}`).join('\n') + '\n');
    const runId = await p.importFile(file);
    dashboard = pipelineDashboard(p, { env: { CAMS_RATE_LIMIT: '10' }, sampleMs: 500 });
    server = await listen(dashboard.app, '127.0.0.1', 0);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    await page.goto(`${server.url}/`);
    const card = page.locator(`#run-${runId}`);
    await card.waitFor({ timeout: 20_000 });
    expect(await card.getAttribute('data-settled')).toBe('0');
    expect(await card.getAttribute('data-total')).toBe('80');
    await expect.poll(() => page.locator('#queue-state').textContent()).toContain('no worker connected');

    p.startWorkers(1);
    // The page refreshes itself: its settled count grows, then the run finishes.
    const settled = async () => Number(await card.getAttribute('data-settled'));
    await expect.poll(settled, { timeout: 30_000, interval: 250 }).toBeGreaterThan(0);
    const first = await settled();
    await expect.poll(settled, { timeout: 30_000, interval: 250 }).toBeGreaterThan(first);
    await expect.poll(() => page.locator('#queue-state').textContent()).toContain('1 worker connected');
    const text = (await page.textContent('body')) ?? '';
    for (const n of numbers) expect(text).not.toContain(n);
    const shot = process.env.DASHBOARD_SCREENSHOT;
    if (shot) {
      await expect.poll(() => page.locator('#chart-note').textContent()).toMatch(/now/);
      await page.screenshot({ path: shot, fullPage: true });
    }

    await page.click('text=queues (Bull Board)');
    await page.waitForURL(/\/queues/);
    await expect.poll(() => page.textContent('body'), { timeout: 20_000 }).toContain(p.queueName);
    const board = (await page.textContent('body')) ?? '';
    for (const n of numbers) expect(board).not.toContain(n);
  });
});
