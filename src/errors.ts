/**
 * Errors the application raises on purpose. Each carries a closed code and the process exit code the
 * CLI uses for it (docs/contract.md, "Exit codes": 1 runtime failure, 2 bad usage or bad input).
 * Errors from CAMS have their own class, `CamsError` in `src/cams/cams-error.ts`.
 */
export type AppErrorCode =
  | 'CONFIG_INVALID'
  | 'CREDENTIALS_MISSING'
  | 'USAGE'
  | 'INPUT_FILE'
  | 'CSV_MALFORMED'
  | 'CSV_NO_PHONE_COLUMN'
  | 'DB_SOURCE'
  | 'RUN_NOT_FOUND'
  /** No schedule of that name (enabled or disabled). */
  | 'SCHEDULE_NOT_FOUND'
  | 'RUN_PRUNED'
  | 'OUTPUT_FILE'
  | 'RUN_FINISHED'
  | 'RUN_CANCELLED'
  | 'SERVICE_UNAVAILABLE'
  | 'MIGRATION_FAILED'
  | 'SCHEMA_OUTDATED'
  /** The schema is behind and this role may not change it: `migrate` must be run by its owner. */
  | 'MIGRATION_NOT_ALLOWED'
  | 'INTERRUPTED'
  | 'SOURCE_LOST'
  | 'DEADLINE_EXCEEDED'
  | 'WRITE_FAILED'
  | 'SCHEMA_NEWER'
  /** This machine's clock is too far off: a worker stops rather than have CAMS refuse its calls. */
  | 'CLOCK_SKEW'
  /** The embedded PostgreSQL server could not be created, started or stopped (its log says why). */
  | 'EMBEDDED_FAILED'
  /** The embedded PostgreSQL server cannot run here as configured (platform, root without a user to run it as, data directory). */
  | 'EMBEDDED_UNSUPPORTED'
  /** The ledger runs its queue on the other store than this process is configured for. */
  | 'QUEUE_STORE_MISMATCH';

const EXIT_CODES: Record<AppErrorCode, 1 | 2> = {
  CONFIG_INVALID: 2,
  CREDENTIALS_MISSING: 2,
  USAGE: 2,
  INPUT_FILE: 2,
  CSV_MALFORMED: 2,
  CSV_NO_PHONE_COLUMN: 2,
  DB_SOURCE: 2,
  RUN_NOT_FOUND: 2,
  SCHEDULE_NOT_FOUND: 2,
  /** The run's per-row records were deleted by `prune`: its rows cannot be told back. */
  RUN_PRUNED: 2,
  OUTPUT_FILE: 2,
  /** A run that finished (or was aborted) cannot be cancelled. */
  RUN_FINISHED: 2,
  /** The run an import was recording was cancelled: the import stops. */
  RUN_CANCELLED: 1,
  SERVICE_UNAVAILABLE: 1,
  MIGRATION_FAILED: 1,
  SCHEMA_OUTDATED: 1,
  MIGRATION_NOT_ALLOWED: 2,
  INTERRUPTED: 1,
  /** A source (database connection, input stream) failed while it was being read. */
  SOURCE_LOST: 1,
  /** A schedule's tick ran past its deadline and was stopped. */
  DEADLINE_EXCEEDED: 1,
  /** A file could not be written for a reason of the machine's (full disk, I/O error), not of its path. */
  WRITE_FAILED: 1,
  /** The database was migrated by a newer version: an installation to fix, like an outdated one. */
  SCHEMA_NEWER: 1,
  CLOCK_SKEW: 1,
  EMBEDDED_FAILED: 1,
  EMBEDDED_UNSUPPORTED: 2,
  QUEUE_STORE_MISMATCH: 2,
};

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: AppErrorCode;
  readonly exitCode: 1 | 2;
  /** The run the failure ended (aborted), when there is one. */
  readonly runId: number | undefined;

  constructor(code: AppErrorCode, message: string, options?: { cause?: unknown; runId?: number }) {
    super(message, options);
    this.code = code;
    this.exitCode = EXIT_CODES[code];
    this.runId = options?.runId;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Turns a connection refusal from Redis or PostgreSQL into an error a user can act on. */
export function serviceUnavailable(service: 'Redis' | 'PostgreSQL', url: string, cause: unknown): AppError {
  return new AppError(
    'SERVICE_UNAVAILABLE',
    `${service} is not reachable at ${redactUrl(url)}: start it (see README, "Services") or set ${
      service === 'Redis' ? 'REDIS_URL' : 'DATABASE_URL'
    }`,
    { cause },
  );
}

/** Removes a password from a connection URL so it can be shown. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

/**
 * Why a file could not be read (`'read'`) or written (`'write'`), in words a user can act on, from the
 * error's errno code; any other error's own message.
 */
/** Write errors of the machine, not of the path given: a full or failing disk, a file size limit. */
const MACHINE_WRITE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EFBIG']);

/**
 * The error for a file that could not be written: `WRITE_FAILED` (exit 1) when the disk is full or
 * failing, which no other flag would mend; `OUTPUT_FILE` (exit 2) when the path itself is wrong.
 * `what` names the file (`rejects file out.csv`).
 */
export function fileWriteError(err: unknown, what: string): AppError {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const code = errno !== undefined && MACHINE_WRITE_ERRORS.has(errno) ? 'WRITE_FAILED' : 'OUTPUT_FILE';
  return new AppError(code, `cannot write ${what}: ${fileErrorReason(err, 'write')}`, { cause: err });
}

export function fileErrorReason(err: unknown, access: 'read' | 'write'): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return access === 'read' ? 'no such file' : 'its directory does not exist';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on device';
    case 'EFBIG':
      return 'the file is larger than this process may write (ulimit -f)';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
