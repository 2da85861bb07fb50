/**
 * Live workers: the queue's status counts the worker processes connected to it, and `import --wait`
 * says plainly when none is instead of sitting at 0%.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/commands/context.js';
import { waitForRun } from '../src/commands/progress.js';
import { loadConfig } from '../src/config.js';
import { queueStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';

let p: Pipeline | undefined;

afterEach(async () => {
  await p?.close();
  p = undefined;
});

function context(signal: AbortSignal, err: string[]): CommandContext {
  return {
    config: loadConfig({}),
    log: p!.log,
    out: () => undefined,
    err: (line) => err.push(line),
    signal,
  };
}

describe('live workers', () => {
  it('counts the worker processes connected to the queue', async () => {
    p = await startPipeline();
    expect((await queueStatus(p.pool, p.queue, p.store)).workers).toBe(0);
    const [a] = p.startWorkers(2);
    await expect.poll(async () => (await queueStatus(p!.pool, p!.queue, p!.store)).workers).toBe(2);
    await a!.close();
    await expect.poll(async () => (await queueStatus(p!.pool, p!.queue, p!.store)).workers).toBe(1);
  });

  it('import --wait says when no worker is connected, after a first interval without one', async () => {
    p = await startPipeline();
    const runId = await p.importFile(await p.csv('none.csv', 'phone\n8613800003001\n'));
    const controller = new AbortController();
    const err: string[] = [];
    const waiting = waitForRun(p.pool, p.queue, p.store, runId, context(controller.signal, err), {
      tty: false,
      pollMs: 50,
      lineMs: 300,
    });
    await expect
      .poll(() => err.some((l) => l.startsWith('no worker is connected')), { timeout: 10_000 })
      .toBe(true);
    controller.abort();
    const result = await waiting;
    expect(result.outcome).toBe('interrupted');
    expect(err.find((l) => l.startsWith('no worker'))).toBe(
      `no worker is connected to queue ${p.queueName}: nothing moves until one starts ("cams-enrich worker")`,
    );
  });
});
