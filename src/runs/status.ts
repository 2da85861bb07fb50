/**
 * Run accounting as `status` and `import --wait` show it (docs/contract.md, "Run accounting":
 * `total = invalid + duplicate + skipped + enriched + failed + cancelled + pending`), plus the queue's
 * state, the current rate and each run's ETA from its share of the fleet's pace.
 */
import type { QueueStore } from '../queue/queue-store.js';
import type { Queryable } from '../db/pool.js';
import type { QueueAlert } from '../db/ledger.js';
import { getAlert } from '../db/ledger.js';
import type { Run, RunCounts, RunPriority } from '../db/runs.js';
import { getRun, listRuns, listWorkingRuns, recentlyDone, recentlyDoneInQueue } from '../db/runs.js';
import type { RunShare } from './share.js';
import { shareOut } from './share.js';
import { AppError } from '../errors.js';
import { countRecentlyDoneByRun } from '../db/sql/count-recently-done-by-run.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { Usage } from './usage.js';
import { emptyUsage, runUsage } from './usage.js';

export type RunPhase = 'importing' | 'running' | 'finished' | 'aborted' | 'cancelled';

export interface RunStatus extends RunCounts {
  run: number;
  /** The queue the run belongs to. */
  queue: string;
  source: string;
  createdAt: string;
  /** As stored: `importing`, `ready`, `aborted` or `cancelled` (what scripts compare). */
  state: Run['state'];
  /** For people: `importing`, `running`, `finished`, `aborted` or `cancelled`. */
  phase: RunPhase;
  priority: RunPriority;
  finished: boolean;
  finishedAt: string | null;
  /** Numbers settled per second over the last `RATE_WINDOW_SECONDS`. */
  ratePerSecond: number;
  /**
   * Seconds left: the run's share of the fleet's pace after what goes before it (runs of a higher
   * priority, and its turns beside runs of its own); null when finished or when nothing moves.
   */
  etaSeconds: number | null;
  /** Runs of a higher priority with work, which this run waits behind; empty when it is served. */
  waitingBehind: number[];
  /** What the run used: requests to CAMS, calls saved, rows enriched and failed (see `usage`). */
  usage: Usage;
}

export interface QueueStatus {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  paused: boolean;
  /** Worker processes of this queue alive now on this Redis database (from the fleet's heartbeats). */
  workers: number;
  /** Why the queue was paused, when an account-wide CAMS failure paused it. */
  alert: { code: string; message: string; raisedAt: string } | null;
}

/** Seconds over which the rate is measured. */
export const RATE_WINDOW_SECONDS = 30;

/** What a run is doing, in a word, from its stored state and counters. */
export function phaseOf(run: Pick<Run, 'state' | 'pending'>): RunPhase {
  if (run.state === 'aborted' || run.state === 'cancelled' || run.state === 'importing') return run.state;
  return run.pending === 0 ? 'finished' : 'running';
}

/** The queue's runs with work, shared out at the fleet's recent pace. */
async function queueShares(db: Queryable, queue: string): Promise<Map<number, RunShare>> {
  const working = await listWorkingRuns(db, queue);
  if (working.length === 0) return new Map();
  const oldest = Math.min(...working.map((r) => r.createdAt.getTime()));
  const window = Math.min(RATE_WINDOW_SECONDS, Math.max(1, (Date.now() - oldest) / 1000));
  const pace = (await recentlyDoneInQueue(db, queue, RATE_WINDOW_SECONDS)) / window;
  return shareOut(working, pace);
}

/** `recentlyDone`: the run's numbers settled in the last `RATE_WINDOW_SECONDS` (read for running runs only). */
function toStatus(run: Run, shares: Map<number, RunShare>, usage: Usage, recentlyDone: number): RunStatus {
  const phase = phaseOf(run);
  // As the accounting defines it: nothing pending (a cancelled run may still wait for calls in flight).
  const finished = run.state !== 'importing' && run.pending === 0;
  let ratePerSecond = 0;
  if (phase === 'running') {
    const age = Math.max(1, (Date.now() - run.createdAt.getTime()) / 1000);
    const window = Math.min(RATE_WINDOW_SECONDS, age);
    ratePerSecond = recentlyDone / window;
  }
  const share = shares.get(run.id);
  return {
    run: run.id,
    queue: run.queue,
    source: run.source,
    createdAt: run.createdAt.toISOString(),
    state: run.state,
    phase,
    priority: run.priority,
    total: run.total,
    invalid: run.invalid,
    duplicate: run.duplicate,
    skipped: run.skipped,
    enriched: run.enriched,
    failed: run.failed,
    cancelled: run.cancelled,
    pending: run.pending,
    finished,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    ratePerSecond: Math.round(ratePerSecond * 100) / 100,
    etaSeconds: phase === 'running' ? (share?.etaSeconds ?? null) : null,
    waitingBehind: share?.waitingBehind ?? [],
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
  const shares = phaseOf(run) === 'running' ? await queueShares(db, run.queue) : new Map<number, RunShare>();
  const [usage, done] = await Promise.all([
    runUsage(db, [run.id]),
    phaseOf(run) === 'running' ? recentlyDone(db, run.id, RATE_WINDOW_SECONDS) : 0,
  ]);
  return toStatus(run, shares, usage.get(run.id) ?? emptyUsage(), done);
}

/** The queue's newest `limit` runs, newest first. */
export async function allRunStatuses(db: Queryable, queue: string, limit = 50): Promise<RunStatus[]> {
  return runStatuses(db, queue, await listRuns(db, queue, limit));
}

/** The statuses of runs of `queue` already read, in their order. */
export async function runStatuses(db: Queryable, queue: string, runs: Run[]): Promise<RunStatus[]> {
  const running = runs.filter((r) => phaseOf(r) === 'running').map((r) => r.id);
  const [shares, usage, done] = await Promise.all([
    running.length > 0 ? queueShares(db, queue) : new Map<number, RunShare>(),
    runUsage(
      db,
      runs.map((r) => r.id),
    ),
    countRecentlyDoneByRun(db, running, RATE_WINDOW_SECONDS),
  ]);
  return runs.map((r) => toStatus(r, shares, usage.get(r.id) ?? emptyUsage(), done.get(r.id) ?? 0));
}

/** The queue's state; `store` is the queue's store (for the workers' heartbeats). */
export async function queueStatus(
  db: Queryable,
  queue: EnrichQueue,
  store: QueueStore,
): Promise<QueueStatus> {
  const [counts, paused, workers, alert] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
    queue.isPaused(),
    store.countLiveProcesses(queue),
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

/** What a run is doing, in a word (its `phase`). */
export function runStateWord(s: RunStatus): RunPhase {
  return s.phase;
}

/** The human form of one run's status, a few lines. `now` is for the running time of an open run. */
export function describeRun(s: RunStatus, now: Date = new Date()): string[] {
  const word = s.phase;
  const started = Date.parse(s.createdAt);
  const ended = s.finishedAt === null ? null : Date.parse(s.finishedAt);
  const open = word === 'running' || word === 'importing';
  const endWord = word === 'finished' ? 'finished' : word;
  const when =
    ended !== null
      ? `started ${s.createdAt}, ${endWord} ${s.finishedAt}, took ${formatSeconds((ended - started) / 1000)}`
      : `started ${s.createdAt}, ${open ? `${word} for ${formatSeconds(Math.max(0, now.getTime() - started) / 1000)}` : word}`;
  const waiting =
    word === 'running' && s.waitingBehind.length > 0
      ? [
          `  waiting behind higher-priority run${s.waitingBehind.length === 1 ? '' : 's'} ${s.waitingBehind.join(', ')}`,
        ]
      : [];
  return [
    `run ${s.run} (${s.source}) ${word}${s.priority === 'normal' ? '' : `, priority ${s.priority}`}`,
    `  ${when}`,
    `  total ${s.total}: enriched ${s.enriched}, failed ${s.failed}, skipped ${s.skipped}, duplicate ${s.duplicate}, invalid ${s.invalid}${s.cancelled > 0 ? `, cancelled ${s.cancelled}` : ''}, pending ${s.pending}`,
    ...waiting,
    ...(open ? [`  rate ${s.ratePerSecond}/s, ETA ${formatSeconds(s.etaSeconds)}`] : []),
  ];
}
