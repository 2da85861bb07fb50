/**
 * Fleet-wide metrics through the ledger's PostgreSQL, as `fleet-metrics.ts` keeps them in Redis: each
 * worker process upserts its prom-client registry as JSON in `fleet_processes` with the time it lapses
 * (its heartbeat, on the server's clock), a process that stops gracefully adds its counters to
 * `fleet_retired` in the same transaction that removes its row, and a reader adds up the retired
 * counters and every live snapshot (`AggregatorRegistry.aggregate`), deleting lapsed ones.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { countLiveProcesses } from '../db/sql/count-live-processes.js';
import { lockFleetRetired } from '../db/sql/lock-fleet-retired.js';
import { publishFleetSnapshot } from '../db/sql/publish-fleet-snapshot.js';
import { readFleetSnapshots } from '../db/sql/read-fleet-snapshots.js';
import { readLiveSnapshots } from '../db/sql/read-live-snapshots.js';
import { processSnapshot } from './fleet-metrics.js';
import type { ProcessSnapshot } from './fleet-metrics.js';
import { retireFleetProcess } from '../db/sql/retire-fleet-process.js';
import { startPeriodic } from '../periodic.js';
import type { FleetSnapshot, MetricsPublisher, MetricsPublisherOptions } from '../queue/queue-store.js';

/** What `registry.getMetricsAsJSON()` gives: one object per metric, with its `type` and values. */
type Snapshot = Array<{ type: unknown }>;

export function startPostgresMetricsPublisher(
  pool: Pool,
  options: MetricsPublisherOptions,
): MetricsPublisher {
  const { registry, log } = options;
  const queue = options.queue.name;
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const ttlMs = options.ttlMs ?? 30_000;
  const publish = async (): Promise<void> => {
    const snapshot = JSON.stringify(await registry.getMetricsAsJSON());
    await publishFleetSnapshot(pool, { queue, id, snapshot, ttlMs });
  };
  const publishing = startPeriodic(options.intervalMs ?? 2000, publish, (err) =>
    log.debug({ err }, 'could not publish metrics; will retry'),
  );
  void publish().catch((err: unknown) => log.debug({ err }, 'could not publish metrics; will retry'));

  let closing: Promise<void> | undefined;
  return {
    id,
    publish,
    close() {
      closing ??= (async () => {
        await publishing.stop();
        const counters = ((await registry.getMetricsAsJSON()) as Snapshot).filter((m) => m.type !== 'gauge');
        await withTransaction(pool, async (client) => {
          const stored = JSON.parse(await lockFleetRetired(client, queue)) as Snapshot;
          const merged = stored.length > 0 ? [stored, counters] : [counters];
          const retired = JSON.stringify(await AggregatorRegistry.aggregate(merged).getMetricsAsJSON());
          await retireFleetProcess(client, { queue, id, retired });
        });
      })();
      return closing;
    },
  };
}

/** Reads and adds up every live snapshot of the queue's fleet and its retired counters. */
export async function readPostgresFleetMetrics(pool: Pool, queue: string): Promise<FleetSnapshot> {
  const { retired, live } = await readFleetSnapshots(pool, queue);
  const snapshots = live.map((v) => JSON.parse(v) as Snapshot);
  const all = retired ? [JSON.parse(retired) as Snapshot, ...snapshots] : snapshots;
  return { processes: snapshots.length, registry: AggregatorRegistry.aggregate(all) };
}

/** Each live process's own snapshot. */
export async function readPostgresProcessSnapshots(pool: Pool, queue: string): Promise<ProcessSnapshot[]> {
  return (await readLiveSnapshots(pool, queue)).map((r) => processSnapshot(r.id, r.snapshot));
}

/** Processes of the queue's fleet alive now (their snapshot has not lapsed). */
export function countPostgresLiveProcesses(pool: Pool, queue: string): Promise<number> {
  return countLiveProcesses(pool, queue);
}
