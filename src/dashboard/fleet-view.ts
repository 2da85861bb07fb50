/**
 * `/api/fleet`: what the fleet page shows, as JSON: the queue's worker processes (host, pid, version,
 * concurrency, uptime, calls in the last minute), the account's rate controller (allowed rate against
 * the quota, margin, throttles), throttles per minute over the last hour, and the queue's alert with
 * what to do about it.
 */
import type { Queryable } from '../db/pool.js';
import type { ProcessSnapshot } from '../queue/queue-store.js';
import { METRIC } from '../metrics/worker-metrics.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { QueueLimiter } from '../queue/queue-account.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { QueueStatus } from '../runs/status.js';
import { queueStatus } from '../runs/status.js';
import type { CallRatePoint } from './call-rate.js';
import type { FleetHistory, MinuteCount } from './fleet-history.js';

export interface WorkerView {
  host: string;
  pid: number;
  /** The cams-enrich version it runs; null for a process that does not say (an older version). */
  version: string | null;
  concurrency: number | null;
  /** Seconds since it started; null when it does not say. */
  uptimeSeconds: number | null;
  /** CAMS calls since it started, and over the last minute. */
  calls: number;
  callsLastMinute: number;
}

export interface FleetView {
  canAct: boolean;
  queue: QueueStatus;
  limiter: QueueLimiter;
  workers: WorkerView[];
  /** Throttles per minute over the last hour, oldest first; counted since `since`. */
  throttlesPerMinute: MinuteCount[];
  since: string | null;
  /** The fleet's calls per second (the runs list's chart). */
  calls: CallRatePoint[];
  /** The queue's alert, with what to do about it. */
  alert: (NonNullable<QueueStatus['alert']> & { advice: string }) | null;
}

type Metrics = ProcessSnapshot['metrics'];
const values = (metrics: Metrics, name: string) => metrics.find((m) => m.name === name)?.values ?? [];
const sum = (metrics: Metrics, name: string) => values(metrics, name).reduce((a, v) => a + v.value, 0);

/** A process's CAMS calls so far, from its own snapshot. */
export function processCalls(p: ProcessSnapshot): number {
  return sum(p.metrics, METRIC.calls);
}

/** What to do about an alert, by its code (the codes of `ACCOUNT_CODES`, or a transport failure's). */
export function alertAdvice(code: string): string {
  if (code === 'Product.Unsubscript')
    return 'The account is not subscribed to CAMS: subscribe it in the Alibaba Cloud console, then resume the queue.';
  if (code === 'Ram.PermissionDeny' || code.startsWith('Forbidden'))
    return "The AccessKey's RAM user may not call QueryPhoneBusinessProfile: grant it the CAMS permission, then resume the queue.";
  if (/^(InvalidAccessKeyId|InvalidSecurityToken|SignatureDoesNotMatch|IncompleteSignature)/.test(code))
    return 'The AccessKey pair is wrong, disabled or rotated: give the workers the right ALIBABA_CLOUD_ACCESS_KEY_ID and secret, restart them, then resume the queue.';
  if (code.startsWith('InvalidTimeStamp'))
    return "A worker's clock is off: set it right (NTP), then resume the queue.";
  if (/^E[A-Z_]+$/.test(code) || code.startsWith('ERR_'))
    return 'The CAMS endpoint does not answer: check the network path to it (CAMS_ENDPOINT, DNS, firewall, proxy). Every call waits and no attempt is spent; the alert clears by itself when CAMS answers again.';
  return "See the workers' log for the cause; once it is fixed, resume the queue.";
}

export async function readFleetView(deps: {
  pool: Queryable;
  queue: EnrichQueue;
  store: QueueStore;
  limiter: () => Promise<QueueLimiter>;
  processes: () => Promise<ProcessSnapshot[]>;
  history: FleetHistory;
  calls: CallRatePoint[];
  canAct: boolean;
}): Promise<FleetView> {
  const [queue, limiter, processes] = await Promise.all([
    queueStatus(deps.pool, deps.queue, deps.store),
    deps.limiter(),
    deps.processes(),
  ]);
  const now = Date.now();
  const workers = processes
    .map((p): WorkerView => {
      const started = values(p.metrics, METRIC.startTime)[0]?.value;
      const version = values(p.metrics, METRIC.processes)[0]?.labels?.version;
      const concurrency = values(p.metrics, METRIC.concurrency)[0]?.value;
      return {
        host: p.host,
        pid: p.pid,
        version: typeof version === 'string' ? version : null,
        concurrency: concurrency ?? null,
        uptimeSeconds: started === undefined ? null : Math.max(0, Math.round(now / 1000 - started)),
        calls: processCalls(p),
        callsLastMinute: deps.history.callsLastMinute(p.id),
      };
    })
    .sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
  const since = deps.history.since();
  return {
    canAct: deps.canAct,
    queue,
    limiter,
    workers,
    throttlesPerMinute: deps.history.throttlesPerMinute(now),
    since: since === null ? null : new Date(since).toISOString(),
    calls: deps.calls,
    alert: queue.alert ? { ...queue.alert, advice: alertAdvice(queue.alert.code) } : null,
  };
}
