/**
 * A job BullMQ fails on its own, without the processor deciding it: one that stalled more often than
 * `maxStalledCount` allows. The worker's `'failed'` listener records it as JOB_FAILED, so the number
 * leaves `pending` with a code instead of waiting forever. The stall is real: a Worker that never
 * renews its lock holds the job until the lock expires and BullMQ's stalled-job check takes it back.
 */
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { useMigratedDatabase } from './helpers/database.js';
import { createLogger } from '../src/log.js';
import { createFeeder } from '../src/queue/feeder.js';
import type { EnrichJobData } from '../src/queue/queue.js';
import { createEnrichQueue } from '../src/queue/queue.js';
import { importRows } from '../src/runs/import-run.js';
import { runStatus } from '../src/runs/status.js';
import { recordJobFailed } from '../workers/worker.js';
import { waitFor } from './helpers/processes.js';
import { deleteQueueKeys, testQueueName, testRedis } from './helpers/services.js';

const log = createLogger({ level: 'silent' });
const t = useMigratedDatabase(log);

async function* oneRow() {
  yield { line: 2, phone: '8613800003001', space: 'S1' };
}

describe('a job that stalled too often', () => {
  it('is recorded as failed with JOB_FAILED and leaves its run finished', async () => {
    const queueName = testQueueName();
    const redis = testRedis();
    const queue = createEnrichQueue(queueName, redis);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const worker = new Worker<EnrichJobData>(
      queueName,
      async () => {
        started += 1;
        await held; // never finishes while the test watches: the job stalls
      },
      {
        connection: redis,
        concurrency: 2,
        skipLockRenewal: true,
        lockDuration: 300,
        stalledInterval: 300,
        maxStalledCount: 0,
      },
    );
    worker.on('error', () => undefined);
    worker.on('failed', recordJobFailed(t.pool, log));
    try {
      const { runId } = await importRows(t.pool, log, {
        queue: queueName,
        source: 'test',
        rows: oneRow(),
        maxAgeMs: 0,
      });
      const feeder = createFeeder({ pool: t.pool, queue, log, jobOptions: { attempts: 3 } });
      expect(await feeder.fill()).toBe(1);
      await waitFor(
        'the stalled job to be failed',
        30_000,
        async () => (await runStatus(t.pool, runId)).failed === 1,
      );
      const { rows } = await t.pool.query<{ error_code: string; error_message: string }>(
        'SELECT error_code, error_message FROM failed_numbers WHERE run_id = $1',
        [runId],
      );
      expect(rows).toEqual([
        { error_code: 'JOB_FAILED', error_message: 'job stalled more than allowable limit' },
      ]);
      expect(await runStatus(t.pool, runId)).toMatchObject({ pending: 0, failed: 1, finished: true });
      // BullMQ failed it on its second pick-up without running the processor again.
      expect(started).toBe(1);
    } finally {
      release();
      await worker.close(true);
      await deleteQueueKeys(redis, queueName);
      await queue.close();
      redis.disconnect();
    }
  });
});
