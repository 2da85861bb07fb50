/**
 * Keeping profiles fresh and the ledger small: `refresh` fetches again exactly the stale profiles
 * and the numbers whose last failure was transient; `prune` deletes the per-number rows of old
 * finished runs in batches and keeps every run's counters.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pruneRuns } from '../src/db/prune.js';
import { refreshRun } from '../src/runs/refresh.js';
import { allRunStatuses } from '../src/runs/status.js';
import { isTransientFailure } from '../src/sources/refresh-source.js';
import { createFeeder } from '../src/queue/feeder.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';

const DAY = 24 * 3600 * 1000;
let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

function numbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `86138${String(20_000_000 + start + i * 7919).slice(-8)}`);
}

/** A finished run whose numbers all failed with the given codes (as workers record final failures). */
async function failedRun(pipeline: Pipeline, failures: Array<[string, string]>): Promise<number> {
  const { rows } = await pipeline.pool.query<{ id: string }>(
    `INSERT INTO runs (queue, source, state, max_age, total, failed, finished_at)
     VALUES ($1, 'csv:old.csv', 'ready', interval '30 days', $2, $2, now() - interval '1 day') RETURNING id`,
    [pipeline.queueName, failures.length],
  );
  const runId = Number(rows[0]!.id);
  await pipeline.pool.query(
    `INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state, error_code, error_message, updated_at)
     SELECT $1, 'S1', phone, line, 'failed', code, 'failed', now() - interval '1 day'
     FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(phone, code, line)`,
    [runId, failures.map((f) => f[0]), failures.map((f) => f[1])],
  );
  return runId;
}

async function feed(pipeline: Pipeline): Promise<void> {
  await createFeeder({
    pool: pipeline.pool,
    queue: pipeline.queue,
    log: pipeline.log,
    jobOptions: { attempts: 3, backoffMs: 100 },
  }).fill();
}

describe('refresh', () => {
  it('classifies failures as CAMS does: transient and throttled codes are retried, refusals and aborts are not', () => {
    expect(isTransientFailure('ServiceUnavailable')).toBe(true);
    expect(isTransientFailure('Transport.Timeout')).toBe(true);
    expect(isTransientFailure('System.LimitControl')).toBe(true);
    expect(isTransientFailure('JOB_FAILED')).toBe(true);
    expect(isTransientFailure('Unknown.ResourceOwnerId')).toBe(false);
    expect(isTransientFailure('Product.Unsubscript')).toBe(false);
    expect(isTransientFailure('IMPORT_ABORTED')).toBe(false);
  });

  it('calls the API for the 50 aged profiles and the transiently failed numbers, and for no other', async () => {
    p = await startPipeline({ rate: 50 });
    const all = numbers(120);
    const file = await p.csv('all.csv', 'phone\n' + all.map((n) => `+${n}`).join('\n') + '\n');
    const first = await p.importFile(file);
    p.startWorkers(2);
    expect(await p.waitFinished(first, 60_000)).toMatchObject({ enriched: 120 });

    const aged = all.slice(10, 60);
    await p.pool.query(
      `UPDATE business_profiles SET fetched_at = now() - interval '8 days' WHERE phone_number = ANY($1)`,
      [aged],
    );
    // One space's stale profile that --space leaves alone, and failures of numbers with no profile.
    await p.pool.query(
      `UPDATE business_profiles SET cust_space_id = 'S2', fetched_at = now() - interval '9 days'
       WHERE phone_number = $1`,
      [all[100]],
    );
    const [transient, throttled, refused, aborted, recovered] = numbers(5, 900_000);
    await failedRun(p, [
      [transient!, 'ServiceUnavailable'],
      [throttled!, 'System.LimitControl'],
      [refused!, 'Unknown.ResourceOwnerId'],
      [aborted!, 'IMPORT_ABORTED'],
      [recovered!, 'Transport.Timeout'],
    ]);
    // The same number refused later: its last failure is not transient, so it is not retried.
    await failedRun(p, [[recovered!, 'InvalidPhoneNumber']]);
    p.sim.resetCounters();

    const made = await refreshRun(p.pool, p.log, {
      queue: p.queueName,
      olderThanMs: 7 * DAY,
      space: 'S1',
    });
    if (made === null) throw new Error('the refresh found nothing to refresh');
    const { runId } = made;
    await feed(p);
    const s = await p.waitFinished(runId, 60_000);
    expect(s).toMatchObject({
      source: 'refresh',
      total: 52,
      invalid: 0,
      duplicate: 0,
      skipped: 0,
      enriched: 52,
      pending: 0,
    });
    const c = p.sim.counters();
    expect(Object.keys(c.okByNumber).sort()).toEqual([...aged, transient!, throttled!].sort());
    expect(c.ok).toBe(52);
    const fresh = await p.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM business_profiles WHERE fetched_at > now() - interval '1 hour'`,
    );
    expect(Number(fresh.rows[0]!.n)).toBe(121); // 120 - the S2 one + the two retried

    // Nothing is stale any more: a second refresh makes no run and spends no call.
    p.sim.resetCounters();
    const runsBefore = await p.pool.query('SELECT id FROM runs');
    const again = await refreshRun(p.pool, p.log, { queue: p.queueName, olderThanMs: 7 * DAY, space: 'S1' });
    expect(again).toBeNull();
    expect((await p.pool.query('SELECT id FROM runs')).rowCount).toBe(runsBefore.rowCount);
    expect(p.sim.counters().calls).toBe(0);
  }, 120_000);
});

describe('prune', () => {
  it('deletes the rows of old finished runs in batches and keeps every counter; recent and pending runs are left', async () => {
    p = await startPipeline();
    const file = await p.csv(
      'mixed.csv',
      'phone\n' + [...numbers(30), 'bad', '12', ...numbers(3)].join('\n') + '\n',
    );
    const old = await p.importFile(file, { maxAgeMs: 0 });
    await p.pool.query(`UPDATE run_items SET state = 'enriched' WHERE run_id = $1 AND state = 'pending'`, [
      old,
    ]);
    await p.pool.query(
      `UPDATE runs SET enriched = enriched + pending, pending = 0, finished_at = now() - interval '40 days'
       WHERE id = $1`,
      [old],
    );
    const pending = await p.importFile(file, { maxAgeMs: 0 }); // not finished: never pruned
    const before = await allRunStatuses(p.pool, p.queue.name);

    const result = await pruneRuns(p.pool, { olderThanMs: 30 * DAY, batchSize: 7 });
    expect(result).toEqual({ runs: 1, items: 30, rejects: 2, duplicates: 3 });
    const left = await p.pool.query<{ run_id: string; n: string }>(
      `SELECT run_id, count(*) AS n FROM run_items GROUP BY run_id`,
    );
    expect(left.rows.map((r) => Number(r.run_id))).toEqual([pending]);
    const rejects = await p.pool.query(`SELECT 1 FROM run_rejects WHERE run_id = $1`, [old]);
    expect(rejects.rowCount).toBe(0);
    const after = await allRunStatuses(p.pool, p.queue.name);
    const counts = (runs: typeof before) =>
      runs.map(({ run, total, invalid, duplicate, skipped, enriched, failed, pending: n }) => ({
        run,
        total,
        invalid,
        duplicate,
        skipped,
        enriched,
        failed,
        pending: n,
      }));
    expect(counts(after)).toEqual(counts(before));
    expect(counts(after).find((r) => r.run === old)).toMatchObject({
      total: 35,
      invalid: 2,
      duplicate: 3,
      enriched: 30,
    });
    // Pruned once: a second pass finds nothing.
    expect(await pruneRuns(p.pool, { olderThanMs: 30 * DAY })).toEqual({
      runs: 0,
      items: 0,
      rejects: 0,
      duplicates: 0,
    });
  });
});
