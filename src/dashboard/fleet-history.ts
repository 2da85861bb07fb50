/**
 * What the fleet page charts and counts from samples the dashboard takes itself (every `sampleMs`):
 * the fleet's throttles per minute over the last hour (from the workers' throttle counter), and each
 * worker process's CAMS calls over the last minute (from its own call counter). The history starts
 * when the dashboard starts; a counter that went down (a process restarted) adds nothing.
 */
export interface MinuteCount {
  /** Start of the minute, ms since the epoch. */
  t: number;
  n: number;
}

export interface FleetHistory {
  /** Records the fleet's throttle total and each live process's call total at time `t` (ms). */
  add(throttled: number, processCalls: ReadonlyMap<string, number>, t?: number): void;
  /** Throttles in each of the last 60 whole minutes and the current one, oldest first. */
  throttlesPerMinute(now?: number): MinuteCount[];
  /** The process's calls over the last minute (over what was seen of it, if it is younger). */
  callsLastMinute(id: string, now?: number): number;
  /** When the first sample was taken (ms), or null before it. */
  since(): number | null;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export function createFleetHistory(): FleetHistory {
  // Throttles added per minute start; the last total seen.
  const perMinute = new Map<number, number>();
  let lastThrottled: number | undefined;
  let first: number | null = null;
  const calls = new Map<string, Array<{ t: number; total: number }>>();
  return {
    add(throttled, processCalls, t = Date.now()) {
      first ??= t;
      if (lastThrottled !== undefined && throttled > lastThrottled) {
        const minute = Math.floor(t / MINUTE) * MINUTE;
        perMinute.set(minute, (perMinute.get(minute) ?? 0) + (throttled - lastThrottled));
      }
      lastThrottled = throttled;
      for (const minute of perMinute.keys()) if (minute < t - HOUR - MINUTE) perMinute.delete(minute);
      for (const [id, total] of processCalls) {
        const samples = calls.get(id) ?? [];
        samples.push({ t, total });
        while (samples.length > 2 && samples[1]!.t <= t - MINUTE) samples.shift();
        calls.set(id, samples);
      }
      for (const id of calls.keys()) if (!processCalls.has(id)) calls.delete(id);
    },
    throttlesPerMinute(now = Date.now()) {
      const current = Math.floor(now / MINUTE) * MINUTE;
      const out: MinuteCount[] = [];
      for (let m = current - HOUR; m <= current; m += MINUTE) out.push({ t: m, n: perMinute.get(m) ?? 0 });
      return out;
    },
    callsLastMinute(id) {
      const samples = calls.get(id);
      if (!samples || samples.length < 2) return 0;
      return Math.max(0, samples.at(-1)!.total - samples[0]!.total);
    },
    since: () => first,
  };
}
