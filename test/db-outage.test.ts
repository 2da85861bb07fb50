/**
 * PostgreSQL blips and an outage under two `cams-enrich worker` processes: a TCP proxy between the
 * workers and PostgreSQL cuts every connection five times for 1 s, once for 0.2 s and then for a long
 * outage (TEST_OUTAGE_MS, default 5000; the acceptance figure is 20000). No worker dies, every number
 * is enriched with the simulator's profile, a number whose profile is stored is never fetched again,
 * and while PostgreSQL is away only the jobs already past their ledger check fetch a profile. Every
 * check reads the simulator's own per-number counts, in an order that no timing can change.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { profileFromData } from '../src/cams/profile.js';
import { profileFor } from '../src/simulator/profiles.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import type { PgProxy } from './helpers/pg-proxy.js';
import { startPgProxy } from './helpers/pg-proxy.js';
import { assertBuilt, killAll, startWorkerProcess, waitFor } from './helpers/processes.js';

const OUTAGE_MS = Number(process.env.TEST_OUTAGE_MS ?? 5000);
const BLIP_MS = Number(process.env.TEST_BLIP_MS ?? 1000);

let p: Pipeline | undefined;
let proxy: PgProxy | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  await proxy?.close();
  proxy = undefined;
  await p?.close();
  p = undefined;
});

describe('workers behind a PostgreSQL that comes and goes', () => {
  it(
    'survive every cut, enrich every number correctly and never fetch a number whose profile is stored',
    async () => {
      p = await startPipeline({ rate: 10 });
      proxy = await startPgProxy(p.db.url);
      const count = 200;
      const numbers = Array.from({ length: count }, (_, i) => `4479${String(20_000_000 + i * 41).slice(-8)}`);
      const file = await p.csv('outage.csv', 'phone\n' + numbers.join('\n') + '\n');
      const runId = await p.importFile(file);
      const env = { DATABASE_URL: proxy.url };
      const concurrency = 4;
      const workers = [
        startWorkerProcess(p, { env, concurrency }),
        startWorkerProcess(p, { env, concurrency }),
      ];
      const pipeline = p;
      const cut = proxy;

      /** The numbers whose profile is stored, then the simulator's answers per number (in this order). */
      const snapshot = async () => {
        const { rows } = await pipeline.pool.query<{ phone_number: string }>(
          'SELECT phone_number FROM business_profiles',
        );
        return { stored: rows.map((r) => r.phone_number), ok: { ...pipeline.sim.counters().okByNumber } };
      };
      // A number stored before a snapshot had every answer that stored it before the snapshot too: any
      // answer the simulator gives it later is a second fetch of a stored number.
      const snapshots: Array<Awaited<ReturnType<typeof snapshot>>> = [];

      // Wait for both workers to be at work (a worker that cannot reach its database at start exits 1,
      // as documented), then cut: 5 × BLIP_MS, one 0.2 s blip, then the long outage.
      await waitFor('both workers at work', 30_000, () => pipeline.sim.counters().calls >= 10);
      const cuts = [BLIP_MS, BLIP_MS, BLIP_MS, BLIP_MS, BLIP_MS, 200, OUTAGE_MS];
      for (const ms of cuts) {
        // Each cut comes once the workers are back at work after the last one: a number stored since.
        const storedBefore = (await snapshot()).stored.length;
        await waitFor(
          'a number stored since the last cut',
          60_000,
          async () => (await snapshot()).stored.length > storedBefore,
        );
        snapshots.push(await snapshot());
        cut.down();
        // Counted from after every connection was cut: no ledger check can pass until it is back, so
        // only a job already past its check gets an answer, and then waits (its slot taken) to store
        // it. At most one answer per job slot: 2 workers × concurrency.
        const before = pipeline.sim.counters().ok;
        await new Promise((resolve) => setTimeout(resolve, ms));
        const answeredWhileDown = pipeline.sim.counters().ok - before;
        cut.up();
        expect(answeredWhileDown).toBeLessThanOrEqual(2 * concurrency);
      }
      for (const w of workers) expect(w.child.exitCode, w.stderr()).toBeNull();
      expect(proxy.refused).toBeGreaterThan(0); // the workers did try to reach PostgreSQL while it was cut

      const s = await p.waitFinished(runId, 120_000 + OUTAGE_MS);
      expect(s).toMatchObject({ total: count, enriched: count, failed: 0, pending: 0 });
      for (const w of workers) expect(w.child.exitCode, w.stderr()).toBeNull();

      const c = p.sim.counters();
      expect(Object.keys(c.okByNumber).sort()).toEqual([...numbers].sort());
      expect(Object.values(c.okByNumber).reduce((a, b) => a + b, 0)).toBe(c.ok);
      // The ledger keeps each number as the simulator saw it, so the lookup below reads real counts.
      expect(snapshots.flatMap(({ stored }) => stored.filter((n) => !(n in c.okByNumber)))).toEqual([]);
      const fetchedAfterStored = snapshots.flatMap(({ stored, ok }) =>
        stored.filter((n) => c.okByNumber[n] !== ok[n]),
      );
      expect(fetchedAfterStored).toEqual([]);

      // Each stored profile is the one the simulator answers for its number.
      const { rows } = await p.pool.query<{ phone_number: string; description: string; email: string }>(
        'SELECT phone_number, description, email FROM business_profiles ORDER BY phone_number',
      );
      expect(rows).toHaveLength(count);
      for (const r of rows) {
        const expected = profileFromData({ ...profileFor(r.phone_number) }, 'x');
        expect({ description: r.description, email: r.email }).toEqual({
          description: expected.description,
          email: expected.email,
        });
      }

      for (const w of workers) w.child.kill('SIGTERM');
      const exits = await Promise.all(workers.map((w) => w.exited));
      expect(exits.map((e) => e.code)).toEqual([0, 0]);
    },
    180_000 + OUTAGE_MS,
  );
});
