/**
 * What the fleet's metrics do alike on either store (`fleet-metrics.ts` on Redis,
 * `postgres-fleet-metrics.ts` on PostgreSQL): a process writes its registry's snapshot now and then
 * every `intervalMs`, and when it stops gracefully folds its counters into the retired snapshot; a
 * reader adds up the retired counters and every live snapshot. The store gives only its own writes.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { startPeriodic } from '../periodic.js';
import type { FleetSnapshot, MetricsPublisher, MetricsPublisherOptions } from '../queue/queue-store.js';

/** What `registry.getMetricsAsJSON()` gives: one object per metric, with its `type` and values. */
export type Snapshot = Array<{ type: unknown }>;

/** A store's own writes of one process's snapshot. */
export interface SnapshotStore {
  /** Writes the process's snapshot (prom-client's JSON), live for the store's time to live. */
  write(id: string, snapshot: string): Promise<void>;
  /** Adds the process's counters to the retired snapshot (`addToRetired`) and removes its own. */
  retire(id: string, counters: Snapshot): Promise<void>;
}

export type SnapshotPublisherOptions = Pick<MetricsPublisherOptions, 'registry' | 'log' | 'intervalMs'>;

/**
 * Publishes `options.registry` through `store` under a new id (`host:pid:random`): once now, then every
 * `intervalMs` (default 2000); `close` stops and retires it, once.
 */
export function startSnapshotPublisher(
  store: SnapshotStore,
  options: SnapshotPublisherOptions,
): MetricsPublisher {
  const { registry, log } = options;
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const publish = async (): Promise<void> => {
    await store.write(id, JSON.stringify(await registry.getMetricsAsJSON()));
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
        await store.retire(id, counters);
      })();
      return closing;
    },
  };
}

/** The retired snapshot (prom-client's JSON) with `counters` added to `stored` (none yet: undefined or empty). */
export async function addToRetired(stored: Snapshot | undefined, counters: Snapshot): Promise<string> {
  const merged = stored !== undefined && stored.length > 0 ? [stored, counters] : [counters];
  return JSON.stringify(await AggregatorRegistry.aggregate(merged).getMetricsAsJSON());
}

/** The fleet's sum from the retired snapshot (none yet: null or undefined) and each live one, as stored. */
export function sumFleet(retired: string | null | undefined, live: readonly string[]): FleetSnapshot {
  const snapshots = live.map((v) => JSON.parse(v) as Snapshot);
  const all = retired ? [JSON.parse(retired) as Snapshot, ...snapshots] : snapshots;
  return { processes: snapshots.length, registry: AggregatorRegistry.aggregate(all) };
}
