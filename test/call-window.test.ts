import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createCallWindow } from '../src/queue/call-window.js';
import { testRedis } from './helpers/services.js';

const connections: Redis[] = [];
const keys: string[] = [];
afterEach(async () => {
  const [first] = connections;
  if (first && keys.length > 0) await first.del(...keys);
  keys.length = 0;
  await Promise.all(connections.splice(0).map((c) => c.quit()));
});

function connection(): Redis {
  const c = testRedis();
  connections.push(c);
  return c;
}

/** Most timestamps in any window of `ms` (sliding, as a strict server counts). */
function mostInAnyWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('the call window', () => {
  it('admits at most `rate` calls in any second across processes, and lets the rest through as it slides', async () => {
    const key = `test-window-${randomUUID()}`;
    keys.push(key);
    // Two "processes", each with its own connection, racing for 25 calls at 10 per second.
    const windows = [connection(), connection()].map((redis) =>
      createCallWindow({ redis, key, rate: 10, windowMs: 1000 }),
    );
    const taken: number[] = [];
    await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        await windows[i % 2]!.acquire();
        taken.push(Date.now());
      }),
    );
    expect(taken).toHaveLength(25);
    expect(mostInAnyWindow(taken, 1000)).toBeLessThanOrEqual(10);
    // The first ten go at once; the 11th had to wait for the window to slide.
    const sorted = [...taken].sort((a, b) => a - b);
    expect(sorted[10]! - sorted[0]!).toBeGreaterThanOrEqual(950);
  });

  it('stops waiting when its signal aborts', async () => {
    const key = `test-window-${randomUUID()}`;
    keys.push(key);
    const window = createCallWindow({ redis: connection(), key, rate: 1, windowMs: 60_000 });
    await window.acquire();
    const controller = new AbortController();
    const waiting = window.acquire(controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(waiting).rejects.toThrow();
  });
});
