/**
 * The simulator's model of the field: a random delay on each request's way in (before its rate
 * limiter counts it, like an internet path to the region) and another client of the same AccessKey
 * using part of its quota for a period. Both are off unless asked for.
 */
export interface InboundDelay {
  /** Shortest delay, ms. Default 0. */
  minMs?: number;
  /** Longest delay, ms; each request waits a uniform random time in [minMs, maxMs]. */
  maxMs: number;
}

export interface BackgroundClient {
  /** Calls per second the other client sends, evenly spaced. */
  rate: number;
  /** When it starts, ms after the simulator starts (or after `setBackground`). Default 0. */
  startAfterMs?: number;
  /** How long it runs, ms. Default: until stopped. */
  durationMs?: number;
}

export interface BackgroundCounters {
  /** Calls the other client sent. */
  calls: number;
  /** Those admitted (they used the quota). */
  ok: number;
  /** Those throttled. */
  throttled: number;
  /** Whether it is sending now. */
  running: boolean;
}

/** Checks the delay; throws a RangeError naming the problem. */
export function validateInboundDelay(d: InboundDelay): void {
  const min = d.minMs ?? 0;
  if (!(Number.isFinite(min) && min >= 0 && Number.isFinite(d.maxMs) && d.maxMs >= min))
    throw new RangeError(`inbound delay must be 0 <= min <= max ms (got ${min}-${d.maxMs})`);
}

export function validateBackground(b: BackgroundClient): void {
  if (!(Number.isFinite(b.rate) && b.rate > 0))
    throw new RangeError(`background rate must be a positive number of calls per second (got ${b.rate})`);
  for (const [name, v] of [
    ['startAfterMs', b.startAfterMs],
    ['durationMs', b.durationMs],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0))
      throw new RangeError(`background ${name} must be a number of ms >= 0 (got ${v})`);
  }
}

/** Draws one inbound delay, ms. */
export function drawDelay(d: InboundDelay | undefined): number {
  if (!d) return 0;
  const min = d.minMs ?? 0;
  return min + Math.random() * (d.maxMs - min);
}

/**
 * Runs another client: `rate` calls per second, evenly spaced on a self-correcting schedule, each
 * counted by `admit` (which answers whether the AccessKey's window had room).
 */
export function startBackground(
  b: BackgroundClient,
  admit: () => boolean,
  counters: BackgroundCounters,
): { stop(): void } {
  validateBackground(b);
  const interval = 1000 / b.rate;
  const begin = Date.now() + (b.startAfterMs ?? 0);
  const end = b.durationMs === undefined ? Infinity : begin + b.durationMs;
  let k = 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = Date.now();
    if (now >= end) {
      counters.running = false;
      return;
    }
    counters.running = true;
    counters.calls += 1;
    if (admit()) counters.ok += 1;
    else counters.throttled += 1;
    k += 1;
    timer = setTimeout(tick, Math.max(0, begin + k * interval - Date.now()));
  };
  timer = setTimeout(tick, Math.max(0, begin - Date.now()));
  return {
    stop() {
      clearTimeout(timer);
      counters.running = false;
    },
  };
}

/** Counts per whole second since `origin` (performance.now() ms). */
export class PerSecond {
  readonly counts: number[] = [];
  constructor(private readonly origin: number) {}
  add(now: number): void {
    const i = Math.floor((now - this.origin) / 1000);
    if (i < 0 || i > 86_400) return;
    while (this.counts.length <= i) this.counts.push(0);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
  }
}
