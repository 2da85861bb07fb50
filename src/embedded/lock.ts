/**
 * A lock file for starting and stopping the embedded server: two commands starting at once end with
 * one server. The file holds its owner's pid; a lock whose owner is dead (a command killed with
 * kill -9 while starting the server) is broken by the next one that finds it.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../errors.js';

/** True when a process with this pid exists (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ownerOf(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isSafeInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `task` holding the lock at `path`, waiting up to `timeoutMs` for another holder (checked every
 * 100 ms). Throws `EMBEDDED_FAILED` when the wait runs out.
 */
export async function withLock<T>(path: string, timeoutMs: number, task: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await ownerOf(path);
    // An empty file is one being written this instant: its owner gets the time to write its pid.
    if (owner !== undefined && !processAlive(owner)) {
      // Taken aside under a name of our own first, so two processes breaking it do not both remove
      // a lock a third took meanwhile: only the one whose rename succeeded removes it.
      const aside = `${path}.stale-${process.pid}`;
      try {
        await rename(path, aside);
        const moved = await ownerOf(aside);
        if (moved === owner) await unlink(aside);
        else await rename(aside, path); // a live holder's lock, taken by mistake: put back
      } catch {
        // Someone else broke it first.
      }
      continue;
    }
    if (performance.now() > deadline) {
      throw new AppError(
        'EMBEDDED_FAILED',
        `the embedded PostgreSQL server's lock ${path} is held by process ${owner ?? '(unknown)'} for more than ${Math.round(timeoutMs / 1000)} s: ` +
          `wait for it, or remove the file if that process is not cams-enrich`,
      );
    }
    await sleep(100);
  }
  try {
    return await task();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
