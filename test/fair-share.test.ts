/**
 * Runs share the quota: a small run imported while a big one is worked gets its turns at once, a
 * high-priority run goes before the others, a low one waits while a normal one has work, a run whose
 * priority is raised has its buffered jobs moved ahead at once. Every
 * assertion is about order, read from the ledger (when each number was settled), never about time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { jobIdFor } from '../src/queue/queue.js';
import { changeRunPriority } from '../src/runs/priority.js';
import { runStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { waitFor } from './helpers/processes.js';

let p: Pipeline | undefined;

afterEach(async () => {
  await p?.close();
  p = undefined;
});

const RATE = 50;
/** What the feeder keeps ready in Redis at RATE: 3 s of it. */
const BUFFER = 3 * RATE;

function numbers(prefix: string, count: number): string {
  return (
    'phone\n' +
    Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`).join('\n') +
    '\n'
  );
}

/** Rows of `runId` settled at or after the first settled row of `other`. */
async function settledSince(pipeline: Pipeline, runId: number, other: number): Promise<number> {
  const { rows } = await pipeline.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM run_items
     WHERE run_id = $1 AND state IN ('enriched', 'failed')
       AND updated_at >= (SELECT min(updated_at) FROM run_items
                          WHERE run_id = $2 AND state IN ('enriched', 'failed'))`,
    [runId, other],
  );
  return Number(rows[0]?.n ?? 0);
}

async function settled(pipeline: Pipeline, runId: number): Promise<number> {
  const s = await runStatus(pipeline.pool, runId);
  return s.enriched + s.failed;
}

describe('fair share between runs', () => {
  it('calls a small run imported behind a big one of its priority in turns with it, not after it', async () => {
    p = await startPipeline({ rate: RATE + 10, workerRate: RATE });
    const big = await p.importFile(await p.csv('big.csv', numbers('86138', 3000)));
    p.startWorkers(2);
    await waitFor('the big run to be worked', 30_000, async () => (await settled(p!, big)) >= 20);
    const small = await p.importFile(await p.csv('small.csv', numbers('86139', 50)));
    const bigBefore = await settled(p, big);
    expect(await p.waitFinished(small, 60_000)).toMatchObject({ enriched: 50, pending: 0 });
    // Behind the big run the small one would wait for its 2 980 other numbers; taking turns, it waits
    // for what was buffered (BUFFER) and one big number per small one.
    const bigDuring = (await settled(p, big)) - bigBefore;
    expect(bigDuring).toBeLessThan(BUFFER + 50 + 100);
    expect((await runStatus(p.pool, big)).pending).toBeGreaterThan(2000);
  });

  it('serves a high-priority run before the buffered work of a normal one', async () => {
    p = await startPipeline({ rate: RATE + 10, workerRate: RATE });
    const big = await p.importFile(await p.csv('big.csv', numbers('86138', 3000)));
    p.startWorkers(2);
    await waitFor('the big run to be worked', 30_000, async () => (await settled(p!, big)) >= 20);
    const high = await p.importFile(await p.csv('high.csv', numbers('86139', 50)), { priority: 'high' });
    expect(await p.waitFinished(high, 60_000)).toMatchObject({ enriched: 50, pending: 0 });
    // Its numbers go before every number of the normal run that was not already in a worker's hands
    // (2 workers × concurrency 4 when it was fed), however much of that run is buffered; taking turns
    // with it would have settled about 50 of the big run's numbers in between.
    const { rows } = await p.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM run_items b
       WHERE b.run_id = $1 AND b.state = 'enriched'
         AND b.updated_at > (SELECT min(updated_at) FROM run_items WHERE run_id = $2)
         AND b.updated_at < (SELECT max(updated_at) FROM run_items WHERE run_id = $2)`,
      [big, high],
    );
    expect(Number(rows[0]?.n)).toBeLessThanOrEqual(2 * 4);
  });

  it("moves a run's jobs already in Redis when its priority changes", async () => {
    p = await startPipeline({ rate: RATE + 10, workerRate: RATE });
    const pipeline = p;
    const shared = '8613800000'; // a's first number
    const a = await pipeline.importFile(await pipeline.csv('a.csv', numbers('86138', 50)));
    const b = await pipeline.importFile(await pipeline.csv('b.csv', numbers('86139', 49) + `${shared}\n`), {
      priority: 'low',
    });
    const priorities = async (prefix: string) => {
      const jobs = await pipeline.queue.getJobs(['prioritized', 'waiting']);
      return new Set(jobs.filter((j) => j.data.phoneNumber.startsWith(prefix)).map((j) => j.priority));
    };
    const { rows } = await pipeline.pool.query<{ phone_number: string }>(
      'SELECT phone_number FROM run_items WHERE run_id = $1 INTERSECT SELECT phone_number FROM run_items WHERE run_id = $2',
      [a, b],
    );
    expect(rows).toHaveLength(1);
    const priorityOf = async () =>
      (await pipeline.queue.getJob(jobIdFor('S1', rows[0]!.phone_number)))?.priority;
    // Both runs are buffered (no worker yet): a's jobs at normal (2), b's at low (3), the shared
    // number's once, at a's normal.
    expect(await priorities('86139')).toEqual(new Set([3]));
    expect(await priorityOf()).toBe(2);

    expect(await changeRunPriority({ pool: pipeline.pool, queue: pipeline.queue }, b, 'high')).toEqual({
      run: b,
      priority: 'high',
      movedJobs: 50,
    });
    expect(await priorities('86139')).toEqual(new Set([1]));
    expect(await priorityOf()).toBe(1);
    // Lowering a keeps the shared number at b's high.
    const lowered = await changeRunPriority({ pool: pipeline.pool, queue: pipeline.queue }, a, 'low');
    expect(lowered.movedJobs).toBe(49);
    expect(await priorities('86138')).toEqual(new Set([1, 3]));
    expect(await priorityOf()).toBe(1);
    await expect(
      changeRunPriority({ pool: pipeline.pool, queue: pipeline.queue }, a + b + 1, 'high'),
    ).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });

    // Worked now, b's numbers go before a's, though a's were buffered first.
    pipeline.startWorkers(2);
    await pipeline.waitFinished(a, 60_000);
    // (The shared number is b's too: a's first number of its own is what counts.)
    const { rows: after } = await pipeline.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM run_items
       WHERE run_id = $1 AND state = 'enriched'
         AND updated_at >= (SELECT min(updated_at) FROM run_items
                            WHERE run_id = $2 AND phone_number <> $3 AND state = 'enriched')`,
      [b, a, rows[0]!.phone_number],
    );
    expect(Number(after[0]?.n)).toBeLessThanOrEqual(2 * 4);
  });

  it('gives a low-priority run no call while a normal run has work', async () => {
    p = await startPipeline({ rate: RATE + 10, workerRate: RATE });
    const low = await p.importFile(await p.csv('low.csv', numbers('86137', 50)), { priority: 'low' });
    const normal = await p.importFile(await p.csv('normal.csv', numbers('86138', 400)));
    expect((await runStatus(p.pool, low)).waitingBehind).toEqual([normal]);
    p.startWorkers(2);
    await p.waitFinished(low, 60_000);
    // The low run's first number was called only once the normal run's last ones were in the workers'
    // hands: at most the jobs low had buffered before the normal run was ready, plus the slots.
    const normalAfterLowStarted = await settledSince(p, normal, low);
    expect(normalAfterLowStarted).toBeLessThanOrEqual(2 * 4);
    expect(await settled(p, normal)).toBe(400);
  });
});
