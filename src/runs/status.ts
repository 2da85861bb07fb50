/**
 * Run accounting as `status` and `import --wait` show it (README, "Monitoring":
 * `total = invalid + duplicate + skipped + enriched + failed + pending`), plus the queue's state,
 * the current rate and an ETA.
 */
import type { Queryable } from '../db/pool.js';
import type { QueueAlert } from '../db/ledger.js';
import { getAlert } from '../db/ledger.js';
import type { Run, RunCounts } from '../db/runs.js';
import { getRun, listRuns, recentlyDone } from '../db/runs.js';
import { AppError } from '../errors.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { Usage } from './usage.js';
import { emptyUsage, runUsage } from './usage.js';

export interface RunStatus extends RunCounts {
  run: number;
  source: string;
  createdAt: string;
  state: Run['state'];
  finished: boolean;
  finishedAt: string | null;
  /** Numbers settled per second over the last `RATE_WINDOW_SECONDS`. */
  ratePerSecond: number;
  /** Seconds left at that rate; null when finished or when nothing moves. */
  etaSeconds: number | null;
  /** What the run used: requests to CAMS, calls saved, rows enriched and failed (see `usage`). */
  usage: Usage;
}

export interface QueueStatus {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  paused: boolean;
  /** Worker processes connected to the queue now (BullMQ `getWorkersCount`, from Redis's client list). */
  workers: number;
  /** Why the queue was paused, when an account-wide CAMS failure paused it. */
  alert: { code: string; message: string; raisedAt: string } | null;
}

/** Seconds over which the rate is measured. */
export const RATE_WINDOW_SECONDS = 30;

async function toStatus(db: Queryable, run: Run, usage: Usage): Promise<RunStatus> {
  const finished = run.state !== 'importing' && run.pending === 0;
  let ratePerSecond = 0;
  if (!finished && run.state === 'ready') {
    const age = Math.max(1, (Date.now() - run.createdAt.getTime()) / 1000);
    const window = Math.min(RATE_WINDOW_SECONDS, age);
    ratePerSecond = (await recentlyDone(db, run.id, RATE_WINDOW_SECONDS)) / window;
  }
  return {
    run: run.id,
    source: run.source,
    createdAt: run.createdAt.toISOString(),
    state: run.state,
    total: run.total,
    invalid: run.invalid,
    duplicate: run.duplicate,
    skipped: run.skipped,
    enriched: run.enriched,
    failed: run.failed,
    pending: run.pending,
    finished,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    ratePerSecond: Math.round(ratePerSecond * 100) / 100,
    etaSeconds: finished ? null : ratePerSecond > 0 ? Math.ceil(run.pending / ratePerSecond) : null,
    usage,
  };
}

export async function runStatus(db: Queryable, runId: number): Promise<RunStatus> {
  const run = await getRun(db, runId);
  if (!run)
    throw new AppError(
      'RUN_NOT_FOUND',
      `run ${runId} does not exist (see "cams-enrich status" for the list)`,
    );
  const usage = await runUsage(db, [run.id]);
  return toStatus(db, run, usage.get(run.id) ?? emptyUsage());
}

/** The newest `limit` runs, newest first. */
export async function allRunStatuses(db: Queryable, limit = 50): Promise<RunStatus[]> {
  const runs = await listRuns(db, limit);
  const usage = await runUsage(
    db,
    runs.map((r) => r.id),
  );
  return Promise.all(runs.map((r) => toStatus(db, r, usage.get(r.id) ?? emptyUsage())));
}

export async function queueStatus(db: Queryable, queue: EnrichQueue): Promise<QueueStatus> {
  const [counts, paused, workers, alert] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
    queue.isPaused(),
    queue.getWorkersCount(),
    getAlert(db, queue.name),
  ]);
  return {
    name: queue.name,
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    paused,
    workers,
    alert: alert ? formatAlert(alert) : null,
  };
}

function formatAlert(a: QueueAlert): QueueStatus['alert'] {
  return { code: a.code, message: a.message, raisedAt: a.raisedAt.toISOString() };
}

/** `2 workers connected`, or what to do when none is. */
export function workersText(workers: number): string {
  return workers === 0
    ? 'no worker connected (start one with "cams-enrich worker")'
    : `${workers} worker${workers === 1 ? '' : 's'} connected`;
}

/** `1h 02m 03s`, for people. */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '—';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0
    ? `${h}h ${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m ${String(s).padStart(2, '0')}s`
      : `${s}s`;
}

/** What a run is doing, in a word: `aborted`, `finished`, `importing` or `running`. */
export function runStateWord(s: RunStatus): 'aborted' | 'finished' | 'importing' | 'running' {
  if (s.state === 'aborted') return 'aborted';
  if (s.finished) return 'finished';
  return s.state === 'importing' ? 'importing' : 'running';
}

/** The human form of one run's status, a few lines. `now` is for the running time of an open run. */
export function describeRun(s: RunStatus, now: Date = new Date()): string[] {
  const word = runStateWord(s);
  const started = Date.parse(s.createdAt);
  const ended = s.finishedAt === null ? null : Date.parse(s.finishedAt);
  const when =
    ended !== null
      ? `started ${s.createdAt}, ${word === 'aborted' ? 'aborted' : 'finished'} ${s.finishedAt}, took ${formatSeconds((ended - started) / 1000)}`
      : `started ${s.createdAt}, ${word === 'aborted' ? 'aborted' : `${word} for ${formatSeconds(Math.max(0, now.getTime() - started) / 1000)}`}`;
  return [
    `run ${s.run} (${s.source}) ${word}`,
    `  ${when}`,
    `  total ${s.total}: enriched ${s.enriched}, failed ${s.failed}, skipped ${s.skipped}, duplicate ${s.duplicate}, invalid ${s.invalid}, pending ${s.pending}`,
    ...(word === 'running' || word === 'importing'
      ? [`  rate ${s.ratePerSecond}/s, ETA ${formatSeconds(s.etaSeconds)}`]
      : []),
  ];
}
