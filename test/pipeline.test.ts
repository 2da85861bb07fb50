import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { profileFor } from '../src/simulator/profiles.js';
import { getAlert } from '../src/db/ledger.js';
import { unfinishedJobs } from '../src/queue/queue.js';
import { runStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';

let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

/** `count` distinct Chinese mobile numbers (digits, country code first). */
function numbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `86138${String(10_000_000 + start + i * 7919).slice(-8)}`);
}

/** The same number written the ways people write it. */
function formatted(n: string, i: number): string {
  const national = n.slice(2);
  switch (i % 5) {
    case 0:
      return `+86 ${national.slice(0, 3)} ${national.slice(3, 7)} ${national.slice(7)}`;
    case 1:
      return `0086-${national}`;
    case 2:
      return n;
    case 3:
      return `(+86) ${national.slice(0, 3)}-${national.slice(3, 7)}-${national.slice(7)}`;
    default:
      return `+86.${national.slice(0, 3)}.${national.slice(3, 7)}.${national.slice(7)}`;
  }
}

function csvOf(rows: string[][]): string {
  return (
    rows
      .map((r) => r.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(','))
      .join('\n') + '\n'
  );
}

async function storedProfiles(pipeline: Pipeline) {
  const { rows } = await pipeline.pool.query<{
    phone_number: string;
    vertical: string | null;
    description: string | null;
    email: string | null;
    address: string | null;
    profile_picture_url: string | null;
    websites: string[];
    about: string | null;
    raw: Record<string, unknown>;
  }>('SELECT * FROM business_profiles ORDER BY phone_number');
  return rows;
}

function trimmed(v: unknown): string | null {
  return typeof v === 'string' ? v.trim() : null;
}

describe('the CSV pipeline', () => {
  it('enriches every valid unique number once, fails the refused one, and the accounting adds up', async () => {
    p = await startPipeline({ rate: 20 });
    const valid = numbers(60);
    const foreign = '8613999999999';
    p.sim.setFaults([
      { match: `^${foreign}$`, answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' } },
    ]);
    const rows = [['name', 'phone']];
    valid.forEach((n, i) => rows.push([`shop ${i}`, formatted(n, i)]));
    rows.push(['foreign', '+86 139 9999 9999']);
    valid.slice(0, 5).forEach((n, i) => rows.push([`again ${i}`, formatted(n, i + 1)])); // duplicates, other format
    const invalid = ['n/a', '', '12345', '=cmd()', '+999 1234 5678'];
    invalid.forEach((v) => rows.push(['bad', v]));
    const file = await p.csv('mixed.csv', csvOf(rows));
    const rejectsFile = `${p.dir}/rejects.csv`;

    const runId = await p.importFile(file, { rejectsFile });
    p.startWorkers(2);
    const s = await p.waitFinished(runId);

    expect(s).toMatchObject({
      total: 71,
      invalid: 5,
      duplicate: 5,
      skipped: 0,
      enriched: 60,
      failed: 1,
      pending: 0,
    });
    const stored = await storedProfiles(p);
    expect(stored.map((r) => r.phone_number)).toEqual([...valid].sort());
    for (const row of stored) {
      const data = profileFor(row.phone_number) as unknown as Record<string, unknown>;
      expect(row.vertical).toBe(trimmed(data['Vertical']));
      expect(row.description).toBe(trimmed(data['Description']));
      expect(row.address).toBe(trimmed(data['Address']));
      expect(row.email).toBe(trimmed(data['Email']));
      expect(row.about).toBe(trimmed(data['About']));
      expect(row.profile_picture_url).toBe(trimmed(data['ProfilePictureUrl']));
      expect(row.websites).toEqual((data['Websites'] as string[]).map((w) => w.trim()));
      expect(row.raw).toEqual(data); // the API's Data as received, padding included
    }
    const failed = await p.pool.query(
      'SELECT phone_number, error_code, error_message FROM failed_numbers WHERE run_id = $1',
      [runId],
    );
    expect(failed.rows).toEqual([
      {
        phone_number: foreign,
        error_code: 'Unknown.ResourceOwnerId',
        error_message: 'The resource does not belong to the current user.',
      },
    ]);
    const c = p.sim.counters();
    expect(Object.values(c.okByNumber).every((n) => n === 1)).toBe(true);
    expect(c.ok).toBe(60);
    expect(c.maxCallsInAnyWindow).toBeLessThanOrEqual(20);

    const rejects = (await readFile(rejectsFile, 'utf8')).trim().split('\n');
    expect(rejects[0]).toBe('line,raw,reason');
    expect(rejects).toHaveLength(6);
    // The formula cell comes back guarded with a leading quote, so a spreadsheet shows it as text.
    expect(rejects.find((l) => l.startsWith('71,'))).toMatch(/^71,'=cmd\(\),/);
    const lines = rejects.slice(1).map((l) => Number(l.split(',')[0]));
    expect(lines).toEqual([68, 69, 70, 71, 72]);
  });

  it('survives 5% HTTP 503 and throttling in both forms without losing or refetching a number', async () => {
    p = await startPipeline({
      rate: 20,
      simulator: { throttleForm: 'mixed' },
      attempts: 8,
    });
    p.sim.setFaults([
      { probability: 0.05, seed: 42, answer: { kind: 'http', status: 503 } },
      { probability: 0.03, seed: 7, answer: { kind: 'error', code: 'System.LimitControl', form: 'http200' } },
      { probability: 0.03, seed: 9, answer: { kind: 'error', code: 'System.LimitControl', form: 'http400' } },
    ]);
    const valid = numbers(80, 3);
    const file = await p.csv('storm.csv', csvOf([['phone'], ...valid.map((n, i) => [formatted(n, i)])]));
    const runId = await p.importFile(file);
    p.startWorkers(2);
    const s = await p.waitFinished(runId, 90_000);

    expect(s).toMatchObject({ total: 80, enriched: 80, failed: 0, pending: 0 });
    const c = p.sim.counters();
    expect(c.errors).toBeGreaterThan(0); // the storm really happened
    expect(c.throttled).toBeGreaterThan(0);
    expect(Object.keys(c.okByNumber).sort()).toEqual([...valid].sort());
    expect(Object.values(c.okByNumber).every((n) => n === 1)).toBe(true);
    expect((await storedProfiles(p)).length).toBe(80);
  });

  it('makes no call when the same file is imported again within --max-age, and refetches with --max-age 0', async () => {
    p = await startPipeline({ rate: 50 });
    const valid = numbers(20, 11);
    const foreign = '8613999999999';
    p.sim.setFaults([
      { match: `^${foreign}$`, answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' } },
    ]);
    const file = await p.csv(
      'again.csv',
      csvOf([['phone_number'], ...[...valid, foreign].map((n) => [`+${n}`])]),
    );
    p.startWorkers(1);
    await p.waitFinished(await p.importFile(file));
    const callsAfterFirst = p.sim.counters().calls;
    expect(callsAfterFirst).toBe(21);

    // The profiles are fresh, and so is CAMS's refusal of the foreign number: no call at all.
    const second = await p.importFile(file);
    const s2 = await p.waitFinished(second);
    expect(s2).toMatchObject({ total: 21, skipped: 20, failed: 1, enriched: 0, pending: 0, finished: true });
    expect(p.sim.counters().calls).toBe(callsAfterFirst);
    const { rows } = await p.pool.query('SELECT error_code FROM failed_numbers WHERE run_id = $1', [second]);
    expect(rows).toEqual([{ error_code: 'Unknown.ResourceOwnerId' }]);

    const third = await p.importFile(file, { maxAgeMs: 0 });
    const s3 = await p.waitFinished(third);
    expect(s3).toMatchObject({ total: 21, skipped: 0, enriched: 20, failed: 1 });
    expect(p.sim.counters().calls).toBe(callsAfterFirst + 21);
  });

  it('settles overlapping runs of the same numbers with one call per number', async () => {
    p = await startPipeline({ rate: 100 });
    const shared = numbers(40, 51);
    const extra = numbers(10, 900_001);
    const first = await p.importFile(await p.csv('a.csv', csvOf([['phone'], ...shared.map((n) => [n])])));
    const second = await p.importFile(
      await p.csv('b.csv', csvOf([['phone'], ...[...extra, ...shared].map((n) => [n])])),
    );
    p.startWorkers(2);
    expect(await p.waitFinished(first)).toMatchObject({ enriched: 40, pending: 0 });
    expect(await p.waitFinished(second)).toMatchObject({ enriched: 50, pending: 0 });
    const c = p.sim.counters();
    expect(c.ok).toBe(50);
    expect(Object.values(c.okByNumber).every((n) => n === 1)).toBe(true);
  });

  it('fails a number with its last code once the transient attempts are spent', async () => {
    p = await startPipeline({ rate: 50, attempts: 3, backoffMs: 50 });
    const [flaky, ok] = numbers(2, 21) as [string, string];
    p.sim.setFaults([{ match: `^${flaky}$`, answer: { kind: 'http', status: 503 } }]);
    const file = await p.csv('flaky.csv', csvOf([['phone'], [flaky], [ok]]));
    const runId = await p.importFile(file);
    p.startWorkers(1);
    const s = await p.waitFinished(runId);
    expect(s).toMatchObject({ enriched: 1, failed: 1, pending: 0 });
    const { rows } = await p.pool.query('SELECT error_code FROM failed_numbers WHERE phone_number = $1', [
      flaky,
    ]);
    expect(rows[0]?.error_code).toMatch(/503|ServiceUnavailable/);
    expect(p.sim.counters().errors).toBe(3); // exactly the configured attempts, never more
  });

  it('pauses the queue on an account-wide refusal, keeps the numbers pending, and finishes after resume', async () => {
    p = await startPipeline({ rate: 50 });
    p.sim.setFaults([{ answer: { kind: 'error', code: 'Product.Unsubscript', form: 'http400' } }]);
    const valid = numbers(10, 31);
    const file = await p.csv('unsubscribed.csv', csvOf([['phone'], ...valid.map((n) => [n])]));
    const runId = await p.importFile(file);
    p.startWorkers(1);
    const pool = p.pool;
    const queueName = p.queueName;
    await expect
      .poll(() => getAlert(pool, queueName), { timeout: 15_000 })
      .toMatchObject({ code: 'Product.Unsubscript' });
    expect(await p.queue.isPaused()).toBe(true);
    // Calls in flight when the pause came answer too (and pause again); wait for them to settle.
    const queue = p.queue;
    await expect.poll(() => queue.getActiveCount(), { timeout: 15_000 }).toBe(0);
    expect(await runStatus(p.pool, runId)).toMatchObject({ enriched: 0, failed: 0, pending: 10 });

    // The account is fixed: resume the queue, as `cams-enrich resume` does.
    p.sim.setFaults([]);
    await p.queue.resume();
    const s = await p.waitFinished(runId);
    expect(s).toMatchObject({ enriched: 10, failed: 0, pending: 0 });
  });

  it('keeps at most the high-water mark of jobs in Redis and the rest in PostgreSQL', async () => {
    p = await startPipeline({ rate: 100, highWater: 25 });
    const valid = numbers(120, 41);
    const file = await p.csv('big.csv', csvOf([['phone'], ...valid.map((n) => [n])]));
    const runId = await p.importFile(file);
    expect(await unfinishedJobs(p.queue)).toBe(25);
    const unfed = await p.pool.query(
      'SELECT count(*)::int AS n FROM run_items WHERE run_id = $1 AND queued_at IS NULL',
      [runId],
    );
    expect(unfed.rows[0]?.n).toBe(95);

    p.startWorkers(2);
    let most = 0;
    const queue = p.queue;
    const s = await p.waitFinished(runId, 60_000, () => {
      void unfinishedJobs(queue).then((n) => (most = Math.max(most, n)));
    });
    expect(s).toMatchObject({ enriched: 120, pending: 0 });
    expect(most).toBeLessThanOrEqual(25);
  });
});
