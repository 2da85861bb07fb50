/**
 * PostgreSQL blips and an outage under two `cams-enrich worker` processes: a TCP proxy between the
 * workers and PostgreSQL cuts every connection five times for 1 s, once for 0.2 s and then for a long
 * outage (TEST_OUTAGE_MS, default 5000; the acceptance figure is 20000). No worker dies, every number
 * is enriched with the simulator's profile, and a database fault almost never costs a second call.
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
    'survive every cut, enrich every number correctly and fetch at most 3 twice',
    async () => {
      p = await startPipeline({ rate: 10 });
      proxy = await startPgProxy(p.db.url);
      const count = 200;
      const numbers = Array.from({ length: count }, (_, i) => `4479${String(20_000_000 + i * 41).slice(-8)}`);
      const file = await p.csv('outage.csv', 'phone\n' + numbers.join('\n') + '\n');
      const runId = await p.importFile(file);
      const env = { DATABASE_URL: proxy.url };
      const workers = [startWorkerProcess(p, { env }), startWorkerProcess(p, { env })];

      // Wait for both workers to be at work (a worker that cannot reach its database at start exits 1,
      // as documented), then cut: 5 × BLIP_MS, one 0.2 s blip, then the long outage.
      const pipeline = p;
      await waitFor('both workers at work', 30_000, () => pipeline.sim.counters().calls >= 10);
      const cuts = [BLIP_MS, BLIP_MS, BLIP_MS, BLIP_MS, BLIP_MS, 200, OUTAGE_MS];
      let answeredDuringOutage = 0;
      for (const ms of cuts) {
        // Each cut comes once the workers are back at work after the last one: a number settled since.
        const settled = async () =>
          (await pipeline.pool.query<{ n: string }>('SELECT count(*) AS n FROM business_profiles')).rows[0]!
            .n;
        const settledBefore = await settled();
        await waitFor(
          'a number settled since the last cut',
          60_000,
          async () => (await settled()) !== settledBefore,
        );
        const before = p.sim.counters().ok;
        await proxy.cut(ms);
        answeredDuringOutage = p.sim.counters().ok - before;
      }
      // Only jobs already past their ledger check may fetch a profile while PostgreSQL is away: at most
      // one per job slot (2 workers × concurrency 4). Throttled calls are not counted: a slot whose
      // call is throttled tries again, and how often depends on the machine's load, not on the ledger.
      expect(answeredDuringOutage).toBeLessThanOrEqual(8);
      for (const w of workers) expect(w.child.exitCode, w.stderr()).toBeNull();
      expect(proxy.refused).toBeGreaterThan(0); // the workers did try to reach PostgreSQL while it was cut

      const s = await p.waitFinished(runId, 120_000 + OUTAGE_MS);
      expect(s).toMatchObject({ total: count, enriched: count, failed: 0, pending: 0 });
      for (const w of workers) expect(w.child.exitCode, w.stderr()).toBeNull();

      const c = p.sim.counters();
      const twice = Object.values(c.okByNumber).filter((n) => n > 1);
      expect(twice.length).toBeLessThanOrEqual(3);
      expect(Object.keys(c.okByNumber)).toHaveLength(count);

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
