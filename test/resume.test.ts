import { afterEach, describe, expect, it } from 'vitest';
import { resumeCommand } from '../src/commands/resume.js';
import { loadConfig } from '../src/config.js';
import { raiseAlert } from '../src/db/ledger.js';
import { unfinishedJobs } from '../src/queue/queue.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { deleteQueueKeys, redisUrl } from './helpers/services.js';

let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

async function resume(pipeline: Pipeline): Promise<Record<string, unknown>> {
  const out: string[] = [];
  const config = loadConfig({
    DATABASE_URL: pipeline.db.url,
    REDIS_URL: redisUrl(),
    CAMS_QUEUE: pipeline.queueName,
  });
  const code = await resumeCommand(
    { json: true },
    {
      config,
      log: pipeline.log,
      out: (l) => out.push(l),
      err: () => undefined,
      signal: new AbortController().signal,
    },
  );
  expect(code).toBe(0);
  return JSON.parse(out.join('')) as Record<string, unknown>;
}

describe('cams-enrich resume', () => {
  it('rebuilds the Redis work buffer from PostgreSQL after Redis lost it, and the run then finishes', async () => {
    p = await startPipeline({ rate: 50 });
    const numbers = Array.from({ length: 15 }, (_, i) => `86138${String(30_000_000 + i * 101)}`);
    const runId = await p.importFile(await p.csv('lost.csv', 'phone\n' + numbers.join('\n') + '\n'));
    expect(await unfinishedJobs(p.queue)).toBe(15);

    await deleteQueueKeys(p.redis, p.queueName); // Redis restarted without persistence
    expect(await unfinishedJobs(p.queue)).toBe(0);

    expect(await resume(p)).toMatchObject({ requeued: 15, fed: 15, resumed: false });
    expect(await unfinishedJobs(p.queue)).toBe(15);
    // Nothing missing now: a second resume changes nothing.
    expect(await resume(p)).toMatchObject({ requeued: 0, fed: 0 });

    p.startWorkers(1);
    expect(await p.waitFinished(runId)).toMatchObject({ enriched: 15, pending: 0 });
    expect(p.sim.counters().calls).toBe(15);
  });

  it('lets the workers put back, on their own, numbers whose job Redis lost', async () => {
    p = await startPipeline({ rate: 50, lostJobsIntervalMs: 300 });
    const numbers = Array.from({ length: 8 }, (_, i) => `86138${String(31_000_000 + i * 101)}`);
    const runId = await p.importFile(await p.csv('swept.csv', 'phone\n' + numbers.join('\n') + '\n'));
    await deleteQueueKeys(p.redis, p.queueName);
    p.startWorkers(1);
    expect(await p.waitFinished(runId, 20_000)).toMatchObject({ enriched: 8, pending: 0 });
    expect(p.sim.counters().calls).toBe(8);
  });

  it('clears an account alert and resumes a paused queue', async () => {
    p = await startPipeline({ rate: 50 });
    await raiseAlert(
      p.pool,
      p.queueName,
      'Product.Unsubscript',
      'You have not subscribed to the specified product.',
    );
    await p.queue.pause();
    expect(await resume(p)).toMatchObject({ resumed: true, clearedAlert: 'Product.Unsubscript' });
    expect(await p.queue.isPaused()).toBe(false);
  });
});
