/**
 * `import --wait`: a live progress bar on a terminal, plain periodic lines elsewhere (logs, CI),
 * until the run is finished or the queue is paused by an account-wide failure.
 */
import cliProgress from 'cli-progress';
import type { Queryable } from '../db/pool.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { RunStatus } from '../runs/status.js';
import { formatSeconds, queueStatus, runStatus } from '../runs/status.js';
import type { CommandContext, ExitCode } from './context.js';

export interface WaitOptions {
  /** Poll interval in ms. Default 1000. */
  pollMs?: number;
  /** Plain line interval in ms when not on a terminal. Default 5000. */
  lineMs?: number;
  /** Draw a bar (stderr is a terminal). */
  tty: boolean;
  /** Stream for the bar. */
  stream?: NodeJS.WriteStream;
}

export type WaitResult = { exitCode: ExitCode; status: RunStatus };

function settled(s: RunStatus): number {
  return s.total - s.pending;
}

export async function waitForRun(
  db: Queryable,
  queue: EnrichQueue,
  runId: number,
  ctx: CommandContext,
  options: WaitOptions,
): Promise<WaitResult> {
  const pollMs = options.pollMs ?? 1000;
  const lineMs = options.lineMs ?? 5000;
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  try {
    for (;;) {
      const status = await runStatus(db, runId);
      const q = await queueStatus(db, queue);
      const payload = {
        enriched: status.enriched,
        failed: status.failed,
        rate: status.ratePerSecond.toFixed(1),
        etaText: formatSeconds(status.etaSeconds),
      };
      if (options.tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format:
                'run {run} {bar} {percentage}% | {value}/{total} | enriched {enriched} failed {failed} | {rate}/s | ETA {etaText}',
              stream: options.stream ?? process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(status.total, settled(status), { ...payload, run: runId });
        }
        bar.setTotal(status.total);
        bar.update(settled(status), payload);
      } else if (status.finished || Date.now() - lastLine >= lineMs) {
        lastLine = Date.now();
        ctx.err(
          `run ${runId}: ${settled(status)}/${status.total} settled (enriched ${status.enriched}, failed ${status.failed}, skipped ${status.skipped}, duplicate ${status.duplicate}, invalid ${status.invalid}), pending ${status.pending}, ${payload.rate}/s, ETA ${payload.etaText}`,
        );
      }
      if (status.finished) return { exitCode: 0, status };
      if (q.alert) {
        bar?.stop();
        bar = undefined;
        ctx.err(`queue ${q.name} is paused: ${q.alert.code}: ${q.alert.message}`);
        ctx.err(`${status.pending} numbers stay pending; fix the account, then run "cams-enrich resume"`);
        return { exitCode: 1, status };
      }
      if (ctx.signal.aborted) {
        ctx.err(`stopped waiting; run ${runId} goes on in the workers ("cams-enrich status --run ${runId}")`);
        return { exitCode: 1, status };
      }
      await sleep(pollMs, ctx.signal);
    }
  } finally {
    bar?.stop();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
