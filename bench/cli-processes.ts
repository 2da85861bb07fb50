/**
 * The built CLI as a bench runs it: `cams-enrich <command>` to its end, and `cams-enrich worker`
 * processes, started and stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'bin.js');

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  /** When the process exited, `performance.now()`. */
  endedAt: number;
}

/** Runs `cams-enrich <args>` with `env` to its end, whatever its exit code. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = once(child, 'close');
  const [code] = (await once(child, 'exit')) as [number | null];
  const endedAt = performance.now();
  await closed;
  return { code, stdout, stderr, endedAt };
}

/** A `cams-enrich worker` process; its log goes to the bench's stderr with BENCH_TRACE=1. */
export function startWorker(env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'worker'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (process.env.BENCH_TRACE === '1') process.stderr.write(d);
  });
  return child;
}

/** SIGTERM to each worker still running, and waits for them to exit. */
export async function stopWorkers(workers: ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.exitCode !== null || w.signalCode !== null) return;
      const exited = once(w, 'exit');
      w.kill('SIGTERM');
      await exited;
    }),
  );
}
