/**
 * CAMS calls per second over the last minutes, for the runs page's chart: the fleet's call counter
 * (every worker's, through Redis) sampled at a fixed interval. Each point is the average over the
 * `windowMs` before it, so the workers' publishing interval and the sampling interval, which run on
 * clocks of their own, do not show as a saw-tooth. The history starts when the dashboard starts.
 */
export interface CallRatePoint {
  /** Sample time, ms since the epoch. */
  t: number;
  /** Calls per second over the window ending at `t`. */
  perSecond: number;
}

export interface CallRateHistory {
  /** Records the fleet's call total at time `t` (ms). */
  add(total: number, t?: number): void;
  points(): CallRatePoint[];
}

export interface CallRateOptions {
  /** Samples kept. Default 300: ten minutes at one sample every two seconds. */
  keep?: number;
  /** Averaging window in ms. Default 10000. */
  windowMs?: number;
}

export function createCallRateHistory(options: CallRateOptions = {}): CallRateHistory {
  const keep = options.keep ?? 300;
  const windowMs = options.windowMs ?? 10_000;
  // `calls` only grows: a total that went down (a worker left without retiring its counters) adds nothing.
  const samples: Array<{ t: number; calls: number }> = [];
  let lastTotal: number | undefined;
  return {
    add(total, t = Date.now()) {
      const previous = samples.at(-1);
      if (previous && t <= previous.t) return;
      const added = lastTotal === undefined ? 0 : Math.max(0, total - lastTotal);
      lastTotal = total;
      samples.push({ t, calls: (previous?.calls ?? 0) + added });
      if (samples.length > keep) samples.splice(0, samples.length - keep);
    },
    points() {
      const points: CallRatePoint[] = [];
      let from = 0;
      for (let i = 1; i < samples.length; i++) {
        const s = samples[i]!;
        while (from < i - 1 && s.t - samples[from + 1]!.t >= windowMs) from += 1;
        const base = samples[from]!;
        points.push({
          t: s.t,
          perSecond: Math.round(((s.calls - base.calls) / ((s.t - base.t) / 1000)) * 100) / 100,
        });
      }
      return points;
    },
  };
}
