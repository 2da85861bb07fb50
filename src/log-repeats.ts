/**
 * Repeated identical errors, logged once with a count: the first occurrence is logged at once; the
 * same error again within the window is only counted, and when the window ends one line says how
 * many times it came. A Redis that refuses every command (a client retrying in a loop) thus writes
 * a line a minute, not thousands a second.
 */
import type { Logger } from './log.js';

export interface RepeatLimiterOptions {
  /** How long repeats of one error are counted before one line reports them, in ms. Default 60000. */
  windowMs?: number;
}

/** Logs `err` with `message` at `level`, rate-limited per distinct error. */
export type RepeatLimitedLog = (level: 'error' | 'warn', err: unknown, message: string) => void;

/** Identifies an error by its code and message: two errors with the same key are repeats. */
function keyOf(err: unknown, message: string): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return `${message}\u0000${String(e?.code ?? '')}\u0000${String(e?.message ?? err)}`;
}

/** The fields an error is logged with: its message and code only (never its options or command). */
export function errorFields(err: unknown): { message: string; code?: string } {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const fields: { message: string; code?: string } = {
    message: typeof e?.message === 'string' ? e.message : String(err),
  };
  if (typeof e?.code === 'string') fields.code = e.code;
  return fields;
}

export function repeatLimitedLog(log: Logger, options: RepeatLimiterOptions = {}): RepeatLimitedLog {
  const windowMs = options.windowMs ?? 60_000;
  const counting = new Map<string, { repeats: number }>();
  return (level, err, message) => {
    const key = keyOf(err, message);
    const seen = counting.get(key);
    if (seen) {
      seen.repeats += 1;
      return;
    }
    const entry = { repeats: 0 };
    counting.set(key, entry);
    log[level]({ err: errorFields(err) }, message);
    const timer = setTimeout(() => {
      counting.delete(key);
      if (entry.repeats > 0)
        log[level](
          { err: errorFields(err), repeats: entry.repeats, windowMs },
          `${message} (${entry.repeats} more times in the last ${Math.round(windowMs / 1000)} s)`,
        );
    }, windowMs);
    timer.unref();
  };
}
