/**
 * The built CLI as users run it, as child processes of a test: a worker (or any command) pointed at a
 * test pipeline's services. Every process started here is killed by `killAll`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { Pipeline } from './pipeline.js';
import { redisUrl } from './services.js';

export const BIN = 'dist/src/cli/bin.js';

export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves to the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: CliProcess[] = [];

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npm run build" (npm test does it first)`);
}

/** The environment that points the CLI at `pipeline`'s Redis, database (or `databaseUrl`), queue and simulator. */
export function pipelineEnv(pipeline: Pipeline, over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Unset (left out of the child's environment) for a pipeline whose queue is on PostgreSQL.
    REDIS_URL: pipeline.store.kind === 'redis' ? redisUrl() : undefined,
    DATABASE_URL: pipeline.db.url,
    CAMS_QUEUE: pipeline.queueName,
    CAMS_ENDPOINT: pipeline.sim.endpoint,
    CAMS_PROTOCOL: 'http',
    ALIBABA_CLOUD_ACCESS_KEY_ID: pipeline.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: pipeline.accessKeySecret,
    LOG_LEVEL: 'warn',
    ...over,
  };
}

/**
 * Starts `cams-enrich <args>` with `env`. Standard input is empty, or `stdin`: bytes written to a pipe, an
 * open file descriptor the child reads directly (as `< file` does in a shell), or `'pipe'`: a pipe left
 * open for the test to write to (`child.stdin`).
 */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin?: Buffer | number | 'pipe',
): CliProcess {
  const input = stdin === undefined ? 'ignore' : typeof stdin === 'number' ? stdin : 'pipe';
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: [input, 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined);
  if (Buffer.isBuffer(stdin)) child.stdin?.end(stdin);
  let stderr = '';
  let stdout = '';
  child.stderr?.setEncoding('utf8');
  child.stdout?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (stderr += d));
  child.stdout?.on('data', (d: string) => (stdout += d));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const p: CliProcess = { child, stderr: () => stderr, stdout: () => stdout, exited };
  started.push(p);
  return p;
}

/** Starts a `cams-enrich worker` process on `pipeline`. */
export function startWorkerProcess(
  pipeline: Pipeline,
  options: { rate?: number; concurrency?: number; env?: NodeJS.ProcessEnv; args?: string[] } = {},
): CliProcess {
  const env = pipelineEnv(pipeline, { CAMS_RATE_LIMIT: String(options.rate ?? 10), ...options.env });
  return startCli(
    ['worker', '--concurrency', String(options.concurrency ?? 4), ...(options.args ?? [])],
    env,
  );
}

/** Kills (SIGKILL) every process started here that is still running. */
export async function killAll(): Promise<void> {
  for (const p of started.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it returns something other than undefined or false; fails after `ms`. */
export async function waitFor<T>(
  what: string,
  ms: number,
  check: () => T | undefined | false | Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(100);
  }
}
