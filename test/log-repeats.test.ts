import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { repeatLimitedLog } from '../src/log-repeats.js';
import { waitFor } from './helpers/processes.js';

function memoryLog() {
  const lines: Array<{ msg: string; repeats?: number; err?: { code?: string } }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as never);
      done();
    },
  });
  return { log: createLogger({ destination, format: 'json' }), lines };
}

describe('repeated identical errors', () => {
  it('are logged once, then once more with their count when the window ends', async () => {
    const { log, lines } = memoryLog();
    const report = repeatLimitedLog(log, { windowMs: 200 });
    const err = Object.assign(new Error('NOPERM this user has no permissions'), { code: 'X' });
    for (let i = 0; i < 1000; i++) report('error', err, 'worker error');
    expect(lines).toHaveLength(1);
    await waitFor('the count', 10_000, () => lines.length === 2);
    expect(lines[1]!.repeats).toBe(999);
    expect(lines[1]!.msg).toContain('999 more times');
  });

  it('keeps different errors apart, and logs an error again once its window has passed', async () => {
    const { log, lines } = memoryLog();
    const report = repeatLimitedLog(log, { windowMs: 100 });
    report('error', new Error('a'), 'worker error');
    report('error', new Error('b'), 'worker error');
    report('warn', new Error('a'), 'queue error');
    expect(lines.map((l) => l.msg)).toEqual(['worker error', 'worker error', 'queue error']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    report('error', new Error('a'), 'worker error');
    // No repeats came in the windows: no count lines, and the later one is logged as new.
    expect(lines).toHaveLength(4);
    expect(lines.every((l) => l.repeats === undefined)).toBe(true);
  });
});
