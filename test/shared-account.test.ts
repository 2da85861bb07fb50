/**
 * Two queues of one account on one Redis database, each with a run and two `cams-enrich worker`
 * processes: they share the account's quota through one rate controller (keyed by the account, not
 * the queue), measured by the simulator's strict sliding window.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queueAccount } from '../src/queue/queue-account.js';
import { createEnrichQueue } from '../src/queue/queue.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pause, startWorkerProcess, waitFor } from './helpers/processes.js';
import { deleteQueueKeys, testQueueName, testRedis } from './helpers/services.js';

const R = 10;
const WARM_UP_SECONDS = 5;
const MEASURED_SECONDS = 15;

let p: Pipeline | undefined;
let other: string | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  if (other) {
    const redis = testRedis();
    await deleteQueueKeys(redis, other);
    await redis.quit();
  }
  await p?.close();
  p = other = undefined;
});

const numbers = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(10_000_000 + i * 37).slice(-8)}`);

describe('two queues of one account', () => {
  it('share its quota: never over it in any second, almost no throttle, each queue a fair part', async () => {
    p = await startPipeline({ rate: R });
    other = testQueueName();
    const a = numbers('4479', 400);
    const b = numbers('4478', 400);
    await p.importFile(await p.csv('a.csv', 'phone\n' + a.map((n) => `+${n}`).join('\n') + '\n'));
    await p.importFile(await p.csv('b.csv', 'phone\n' + b.map((n) => `+${n}`).join('\n') + '\n'), {
      queue: other,
    });
    // Same AccessKey (the pipeline's), so the same account; the quota each process states is R.
    const workers = [
      startWorkerProcess(p, { rate: R }),
      startWorkerProcess(p, { rate: R }),
      startWorkerProcess(p, { rate: R, env: { CAMS_QUEUE: other } }),
      startWorkerProcess(p, { rate: R, env: { CAMS_QUEUE: other } }),
    ];
    const called = (prefix: string) =>
      Object.keys(p!.sim.counters().okByNumber).filter((n) => n.startsWith(prefix)).length;
    await waitFor('calls for both queues', 60_000, () => called('4479') > 0 && called('4478') > 0);
    // The first seconds teach the controller the line's delay spread (a throttle or two widen its
    // margin, as with one queue); the shares are measured after them.
    await pause(WARM_UP_SECONDS * 1000);
    p.sim.resetCounters();
    await pause(MEASURED_SECONDS * 1000);
    const c = p.sim.counters();
    for (const w of workers) expect(w.child.exitCode).toBeNull();

    const ok = (prefix: string) =>
      Object.entries(c.okByNumber)
        .filter(([n]) => n.startsWith(prefix))
        .reduce((sum, [, k]) => sum + k, 0);
    const [okA, okB] = [ok('4479'), ok('4478')];
    if (process.env.TEST_REPORT)
      console.log({ calls: c.calls, throttled: c.throttled, okA, okB, most: c.maxCallsInAnyWindow });
    expect(c.maxCallsInAnyWindow).toBeLessThanOrEqual(R);
    // Queues that each kept to the quota on their own would offer twice it, and about half their calls
    // would come back throttled. Sharing one controller leaves only the line's delay spread: 0.5% of
    // the calls over a long run; a 15 s run on a busy machine may still see the margin widen once or twice.
    // (15 s at R is about 150 calls, where one throttle is already 0.67%: the strict figure is measured
    // over 60 s by `npm run bench -- fairness`.)
    expect(c.throttled).toBeLessThanOrEqual(Math.max(2, Math.floor(0.005 * c.calls)));
    // Both queues get a real part of what the account got through: the account's calls per second are
    // shared, neither queue starved. Slots go to whichever worker asks first, so the split of a 15 s run
    // varies with scheduling (0.38 to 0.47 seen); its fairness (0.4 R each) is for the bench to measure.
    expect(okA / (okA + okB)).toBeGreaterThanOrEqual(0.25);
    expect(okB / (okA + okB)).toBeGreaterThanOrEqual(0.25);
    expect(okA + okB).toBeGreaterThan(0);

    // Both queues recorded the one account their workers share.
    const redis = testRedis();
    try {
      const qa = createEnrichQueue(p.queueName, redis);
      const qb = createEnrichQueue(other, redis);
      expect(await queueAccount(redis, qa)).toBe(p.account);
      expect(await queueAccount(redis, qb)).toBe(p.account);
      await Promise.all([qa.close(), qb.close()]);
    } finally {
      await redis.quit();
    }
  }, 150_000);
});
