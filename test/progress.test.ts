/**
 * `import --wait`'s progress: the live line's width and content, the terminal left as it was found,
 * the summary line, and what Ctrl-C says, against a real run in PostgreSQL.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/commands/context.js';
import { startProgressLine } from '../src/commands/progress-line.js';
import { progressText, summaryLine, waitForRun } from '../src/commands/progress.js';
import { loadConfig } from '../src/config.js';
import type { RunStatus } from '../src/runs/status.js';
import { emptyUsage } from '../src/runs/usage.js';
import { startPipeline } from './helpers/pipeline.js';
import type { Pipeline } from './helpers/pipeline.js';

const SHOW_CURSOR = '\x1b[?25h';
const HIDE_CURSOR = '\x1b[?25l';

function status(over: Partial<RunStatus> = {}): RunStatus {
  return {
    run: 7,
    queue: 'q',
    source: 'x.csv',
    createdAt: '2026-01-01T00:00:00.000Z',
    state: 'ready',
    phase: 'running',
    priority: 'normal',
    cancelled: 0,
    waitingBehind: [],
    total: 1000,
    invalid: 10,
    duplicate: 20,
    skipped: 30,
    enriched: 400,
    failed: 40,
    pending: 500,
    finished: false,
    finishedAt: null,
    ratePerSecond: 9.8,
    etaSeconds: 51,
    usage: emptyUsage(),
    ...over,
  };
}

/** A stream that records what is written, as a terminal of `columns` would receive it. */
function terminal(columns = 80): PassThrough & { columns: number; text: () => string } {
  const chunks: string[] = [];
  const s = new PassThrough() as PassThrough & { columns: number; text: () => string };
  s.columns = columns;
  s.on('data', (c: Buffer) => chunks.push(c.toString()));
  s.text = () => chunks.join('');
  return s;
}

describe('progressText', () => {
  it('fits 79 columns with rate and ETA visible, even for a run of ten million rows', () => {
    const big = status({
      run: 123456,
      total: 10_000_000,
      pending: 4_000_000,
      enriched: 5_999_000,
      failed: 1000,
      ratePerSecond: 1234.5,
      etaSeconds: 3241,
    });
    for (const s of [status(), big]) {
      const text = progressText(s, 79);
      expect(text.length).toBeLessThanOrEqual(79);
      expect(text).toContain(`${s.ratePerSecond.toFixed(1)}/s`);
      expect(text).toMatch(/ETA \d/);
      expect(text).toMatch(/^run \d+ [█░]+ \d+%/);
    }
    const text = progressText(status(), 79);
    expect(text).toBe(
      'run 7 ' + '█'.repeat(12) + '░'.repeat(11) + ' 50% 500/1000 9.8/s ETA 51s enriched 400 failed 40',
    );
    expect(text.length).toBe(79);
  });

  it('gives up the counts and then the bar before rate and ETA on a narrow terminal', () => {
    const text = progressText(status(), 30);
    expect(text.length).toBeLessThanOrEqual(30);
    expect(text).toContain('9.8/s');
    expect(text).toContain('ETA 51s');
    expect(text).not.toContain('enriched');
  });
});

describe('summaryLine', () => {
  it('names every state of the accounting', () => {
    expect(summaryLine(status({ pending: 0, finished: true, enriched: 900 }), 'finished')).toBe(
      'run 7 finished: enriched 900, failed 40, skipped 30, duplicate 20, invalid 10',
    );
    expect(summaryLine(status(), 'interrupted')).toBe(
      'run 7 so far: enriched 400, failed 40, skipped 30, duplicate 20, invalid 10, pending 500',
    );
  });
});

describe('startProgressLine', () => {
  it('hides the cursor while drawing, keeps the last line and shows the cursor when stopped', () => {
    const t = terminal(40);
    const line = startProgressLine(t);
    line.draw('x'.repeat(100));
    line.stop();
    line.stop();
    line.draw('after stop');
    const out = t.text();
    expect(out.startsWith(HIDE_CURSOR)).toBe(true);
    expect(out.endsWith(`\r\x1b[K${'x'.repeat(39)}\n${SHOW_CURSOR}`)).toBe(true);
    expect(out).not.toContain('x'.repeat(40));
    expect(out).not.toContain('after stop');
    // Nothing that needs undoing: no saved cursor, no line-wrap switching.
    for (const sequence of ['\x1b7', '\x1b8', '\x1b[?7l', '\x1b[?7h']) expect(out).not.toContain(sequence);
  });

  it('shows the cursor again when the process exits while it draws', () => {
    const t = terminal();
    const before = process.listenerCount('exit');
    const line = startProgressLine(t);
    expect(process.listenerCount('exit')).toBe(before + 1);
    process.listeners('exit').at(-1)?.call(process, 0);
    expect(t.text().endsWith(SHOW_CURSOR)).toBe(true);
    line.stop();
    expect(process.listenerCount('exit')).toBe(before);
  });
});

describe('waitForRun', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline({ rate: 50 });
  });
  afterAll(async () => {
    await p.close();
  });

  function context(signal: AbortSignal) {
    const err: string[] = [];
    const ctx: CommandContext = {
      config: loadConfig({}),
      log: p.log,
      out: () => undefined,
      err: (l) => err.push(l),
      signal,
    };
    return { ctx, err };
  }

  it('says on Ctrl-C that the run goes on in the workers, ends with a summary and leaves the cursor shown', async () => {
    const file = await p.csv('wait.csv', 'phone\n8613800001234\n8613800001235\nnot-a-number\n');
    const runId = await p.importFile(file);
    const controller = new AbortController();
    const { ctx, err } = context(controller.signal);
    const t = terminal();
    // Ctrl-C once the line is on screen.
    t.once('data', () => controller.abort());
    const waiting = waitForRun(p.pool, p.queue, p.store, runId, ctx, { tty: true, stream: t, pollMs: 50 });
    const result = await waiting;
    expect(result).toMatchObject({ outcome: 'interrupted', exitCode: 1 });
    expect(err).toEqual([
      'interrupted: stopped waiting; nothing is lost.',
      `Run ${runId} goes on in the workers (2 of 3 pending): cams-enrich status --run ${runId}`,
      `run ${runId} so far: enriched 0, failed 0, skipped 0, duplicate 0, invalid 1, pending 2`,
    ]);
    const screen = t.text();
    expect(screen.startsWith(HIDE_CURSOR)).toBe(true);
    const last = screen.slice(screen.lastIndexOf('\r\x1b[K') + 4);
    expect(last).toMatch(/^run \d+ [█░]+ 33% 1\/3 .*\n/);
    // Two columns spare on an 80-column terminal for the "^C" the terminal echoes.
    expect(last.indexOf('\n')).toBeLessThanOrEqual(77);
    expect(last.endsWith(`\n${SHOW_CURSOR}`)).toBe(true);
  });

  it('follows a run to the end and prints the summary line', async () => {
    const file = await p.csv('finish.csv', 'phone\n8613800002001\n8613800002002\n8613800002002\n');
    const runId = await p.importFile(file);
    p.startWorkers(1);
    const { ctx, err } = context(new AbortController().signal);
    const result = await waitForRun(p.pool, p.queue, p.store, runId, ctx, { tty: false, pollMs: 50 });
    expect(result).toMatchObject({ outcome: 'finished', exitCode: 0 });
    expect(err.at(-1)).toBe(`run ${runId} finished: enriched 2, failed 0, skipped 0, duplicate 1, invalid 0`);
  });
});
