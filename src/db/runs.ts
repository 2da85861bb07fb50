/**
 * Runs and their accounting: creating a run, recording what an import read, and reading it back
 * (each statement in its own file under `sql/`).
 * Every counter changes in the same transaction as the rows it counts (the `runs_accounting` CHECK
 * holds at every commit), so `status` is right at every moment.
 */
import type { Queryable } from './pool.js';
import type { Run, RunPriority } from './sql/read-runs.js';
import { abortRun as abortRunSql } from './sql/abort-run.js';
import { countRecentlyDone } from './sql/count-recently-done.js';
import { createRun as createRunSql } from './sql/create-run.js';
import { markRunReady } from './sql/mark-run-ready.js';
import { countRecentlyDoneInQueue } from './sql/count-recently-done-in-queue.js';
import { readRuns, RUN_PRIORITIES } from './sql/read-runs.js';
import type { RunInput } from './sql/record-run-input.js';
import { recordRunInput as recordRunInputSql } from './sql/record-run-input.js';

export type { Run, RunCounts, RunPriority, RunState } from './sql/read-runs.js';
export type { InputReadOptions, RunInput } from './sql/record-run-input.js';
export { RUN_PRIORITIES } from './sql/read-runs.js';
export { setRunPriority } from './sql/set-run-priority.js';
export { openRunsOfSource } from './sql/open-runs-of-source.js';

export function isRunPriority(value: string): value is RunPriority {
  return (RUN_PRIORITIES as readonly string[]).includes(value);
}

export interface NewRun {
  queue: string;
  /** `csv:<file name>`, `db`, `refresh`, `schedule:<name>`. */
  source: string;
  /** Numbers fetched more recently than this are skipped (0: always fetch). */
  maxAgeMs: number;
  /** An id drawn from the runs' identity sequence already (`take-import-mark.ts`). Default: the next one. */
  id?: number | undefined;
  /** Default `normal`. */
  priority?: RunPriority | undefined;
  /** The customer space of every row (`--space`); absent when the rows carry their own. */
  space?: string | undefined;
}

/** A valid number read from the source. */
export interface AcceptedRow {
  line: number;
  custSpaceId: string;
  phoneNumber: string;
}

/** A row that is not a valid number (or lacks a space id): recorded in `run_rejects` and the rejects file. */
export interface RejectedRow {
  /** 1-based line of the input where the row starts. */
  line: number;
  /** The cell as read from the input. */
  raw: string;
  /** Why it was rejected, e.g. `too short`. */
  reason: string;
}

export function createRun(db: Queryable, run: NewRun): Promise<number> {
  return createRunSql(db, run);
}

/** Records what the run keeps of its input file (once the whole input was read). */
export function recordRunInput(db: Queryable, runId: number, input: RunInput): Promise<void> {
  return recordRunInputSql(db, runId, input);
}

/**
 * The import has recorded every row: the run may now be fed to the queue. Returns false when the run
 * was no longer importing (cancelled meanwhile).
 */
export function markReady(db: Queryable, runId: number): Promise<boolean> {
  return markRunReady(db, runId);
}

/**
 * The import stopped (bad input, an interrupt, or its importer is gone): nothing of the run is queued
 * (it never was ready), and each number it had accepted is failed with `IMPORT_ABORTED` so the
 * accounting still adds up.
 */
export function abortRun(db: Queryable, runId: number, reason: string): Promise<void> {
  return abortRunSql(db, { runId, reason });
}

export async function getRun(db: Queryable, runId: number): Promise<Run | undefined> {
  return (await readRuns(db, { runId, limit: 1 }))[0];
}

/** The queue's runs, newest first. */
export function listRuns(db: Queryable, queue: string, limit = 50): Promise<Run[]> {
  return readRuns(db, { queue, limit });
}

/** The queue's runs that still have work for the workers (ready, pending > 0). */
export function listWorkingRuns(db: Queryable, queue: string): Promise<Run[]> {
  return readRuns(db, { queue, working: true, limit: 10_000 });
}

/** Numbers the queue's runs settled in the last `windowSeconds`. */
export function recentlyDoneInQueue(db: Queryable, queue: string, windowSeconds: number): Promise<number> {
  return countRecentlyDoneInQueue(db, { queue, windowSeconds });
}

export { countRuns } from './sql/count-runs.js';

/** Numbers of the run that reached a final state (enriched or failed) in the last `windowSeconds`. */
export function recentlyDone(db: Queryable, runId: number, windowSeconds: number): Promise<number> {
  return countRecentlyDone(db, { runId, windowSeconds });
}
