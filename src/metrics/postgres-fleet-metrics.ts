/**
 * Fleet-wide metrics through the ledger's PostgreSQL, as `fleet-metrics.ts` keeps them in Redis: each
 * worker process upserts its prom-client registry as JSON in `fleet_processes` with the time it lapses
 * (its heartbeat, on the server's clock), a process that stops gracefully adds its counters to
 * `fleet_retired` in the same transaction that removes its row, and a reader adds up the retired
 * counters and every live snapshot (`AggregatorRegistry.aggregate`), deleting lapsed ones.
 */
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { countLiveProcesses } from '../db/sql/count-live-processes.js';
import { lockFleetRetired } from '../db/sql/lock-fleet-retired.js';
import { publishFleetSnapshot } from '../db/sql/publish-fleet-snapshot.js';
import { readFleetSnapshots } from '../db/sql/read-fleet-snapshots.js';
import { readLiveSnapshots } from '../db/sql/read-live-snapshots.js';
import { processSnapshot } from './fleet-metrics.js';
import type { ProcessSnapshot } from '../queue/queue-store.js';
import { retireFleetProcess } from '../db/sql/retire-fleet-process.js';
import type { FleetSnapshot, MetricsPublisher, MetricsPublisherOptions } from '../queue/queue-store.js';
import { addToRetired, startSnapshotPublisher, sumFleet } from './snapshot-publisher.js';
import type { Snapshot } from './snapshot-publisher.js';

export function startPostgresMetricsPublisher(
  pool: Pool,
  options: MetricsPublisherOptions,
): MetricsPublisher {
  const queue = options.queue.name;
  const ttlMs = options.ttlMs ?? 30_000;
  return startSnapshotPublisher(
    {
      write: (id, snapshot) => publishFleetSnapshot(pool, { queue, id, snapshot, ttlMs }),
      retire: (id, counters) =>
        withTransaction(pool, async (client) => {
          const stored = JSON.parse(await lockFleetRetired(client, queue)) as Snapshot;
          const retired = await addToRetired(stored, counters);
          await retireFleetProcess(client, { queue, id, retired });
        }),
    },
    options,
  );
}

/** Reads and adds up every live snapshot of the queue's fleet and its retired counters. */
export async function readPostgresFleetMetrics(pool: Pool, queue: string): Promise<FleetSnapshot> {
  const { retired, live } = await readFleetSnapshots(pool, queue);
  return sumFleet(retired, live);
}

/** Each live process's own snapshot. */
export async function readPostgresProcessSnapshots(pool: Pool, queue: string): Promise<ProcessSnapshot[]> {
  return (await readLiveSnapshots(pool, queue)).map((r) => processSnapshot(r.id, r.snapshot));
}

/** Processes of the queue's fleet alive now (their snapshot has not lapsed). */
export function countPostgresLiveProcesses(pool: Pool, queue: string): Promise<number> {
  return countLiveProcesses(pool, queue);
}
