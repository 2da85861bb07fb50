/**
 * `import --wait` (and `demo`): a live progress line on a terminal, plain periodic lines elsewhere
 * (logs, CI), until the run is finished, the queue is paused by an account-wide failure, or the
 * user interrupts; then one summary line.
 */
import type { QueueStore } from '../queue/queue-store.js';
import type { Queryable } from '../db/pool.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { RunStatus } from '../runs/status.js';
import { formatSeconds, queueStatus, runStatus } from '../runs/status.js';
import type { CommandContext, ExitCode } from './context.js';
import { lineWidth, startProgressLine } from './progress-line.js';
import type { ProgressLine } from './progress-line.js';

export interface WaitOptions {
  /** Poll interval in ms. Default 1000. */
  pollMs?: number;
  /** Plain line interval in ms when not on a terminal. Default 5000. */
  lineMs?: number;
  /** Draw a live line (stderr is a terminal). */
  tty: boolean;
  /** Stream for the live line. Default stderr. */
  stream?: NodeJS.WritableStream & { columns?: number };
  /**
   * Whether the run goes on elsewhere when the user interrupts (workers in other processes), which
   * the interruption message then says. Default true; the demo, whose workers stop with it, says false.
   */
  goesOnWhenInterrupted?: boolean;
}

/** How the wait ended: the run finished, the queue was paused for the account, or the user interrupted. */
export type WaitOutcome = 'finished' | 'cancelled' | 'paused' | 'interrupted';

export type WaitResult = { exitCode: ExitCode; status: RunStatus; outcome: WaitOutcome };

function settled(s: RunStatus): number {
  return s.total - s.pending;
}

const BAR_MAX = 30;
const BAR_MIN = 5;

/**
 * The live line, at most `width` characters. Rate and ETA always show; the per-state counts, then
 * the settled/total count, then the bar give way first on a narrow terminal.
 */
export function progressText(s: RunStatus, width: number): string {
  const done = settled(s);
  const percent = s.total === 0 ? 100 : Math.floor((done / s.total) * 100);
  const head = `run ${s.run}`;
  const must = [`${percent}%`, `${s.ratePerSecond.toFixed(1)}/s`, `ETA ${formatSeconds(s.etaSeconds)}`];
  const optional = [`${done}/${s.total}`, `enriched ${s.enriched} failed ${s.failed}`];
  let parts = [head, must[0], optional[0], must[1], must[2], optional[1]];
  const length = (p: (string | undefined)[]) => p.filter((x) => x !== undefined).join(' ').length;
  for (const drop of [optional[1], optional[0]]) {
    if (length(parts) + 1 + BAR_MIN <= width) break;
    parts = parts.filter((p) => p !== drop);
  }
  const room = width - length(parts) - 1;
  const present = parts.filter((x): x is string => x !== undefined);
  if (room < BAR_MIN) return present.join(' ').slice(0, width);
  const size = Math.min(BAR_MAX, room);
  const filled = s.total === 0 ? size : Math.round((done / s.total) * size);
  const bar = '█'.repeat(filled) + '░'.repeat(size - filled);
  return [present[0], bar, ...present.slice(1)].join(' ');
}

/** The line `--wait` ends with, whatever ended it. */
export function summaryLine(s: RunStatus, outcome: WaitOutcome, goesOn = true): string {
  const what =
    outcome === 'finished' || outcome === 'cancelled' || outcome === 'paused'
      ? outcome
      : goesOn
        ? 'so far'
        : 'stopped';
  const counts = `enriched ${s.enriched}, failed ${s.failed}, skipped ${s.skipped}, duplicate ${s.duplicate}, invalid ${s.invalid}${s.cancelled > 0 ? `, cancelled ${s.cancelled}` : ''}`;
  return `run ${s.run} ${what}: ${counts}${s.pending > 0 ? `, pending ${s.pending}` : ''}`;
}

export async function waitForRun(
  db: Queryable,
  queue: EnrichQueue,
  store: QueueStore,
  runId: number,
  ctx: CommandContext,
  options: WaitOptions,
): Promise<WaitResult> {
  const pollMs = options.pollMs ?? 1000;
  const lineMs = options.lineMs ?? 5000;
  const stream = options.stream ?? process.stderr;
  const goesOn = options.goesOnWhenInterrupted ?? true;
  let line: ProgressLine | undefined;
  // The first Ctrl-C stops the line at once, so whatever is printed next starts on a clean line.
  const stopLine = () => line?.stop();
  ctx.signal.addEventListener('abort', stopLine, { once: true });
  let lastLine = 0;
  const end = (status: RunStatus, outcome: WaitOutcome, exitCode: ExitCode): WaitResult => {
    line?.stop();
    ctx.err(summaryLine(status, outcome, goesOn));
    return { exitCode, status, outcome };
  };
  // Workers may be starting at the same time: say there is none only after a first interval without one.
  let lastNoWorker = Date.now();
  try {
    for (;;) {
      const status = await runStatus(db, runId);
      const q = await queueStatus(db, queue, store);
      if (options.tty && !ctx.signal.aborted) {
        line ??= startProgressLine(stream);
        // Two columns spare for the terminal's "^C" echo, so an interrupt does not wrap the line.
        line.draw(progressText(status, Math.min(lineWidth(stream) - 2, 77)));
      } else if (!options.tty && (status.finished || Date.now() - lastLine >= lineMs)) {
        lastLine = Date.now();
        ctx.err(
          `run ${runId}: ${settled(status)}/${status.total} settled (enriched ${status.enriched}, failed ${status.failed}, skipped ${status.skipped}, duplicate ${status.duplicate}, invalid ${status.invalid}), pending ${status.pending}, ${status.ratePerSecond.toFixed(1)}/s, ETA ${formatSeconds(status.etaSeconds)}`,
        );
      }
      if (status.phase === 'cancelled') return end(status, 'cancelled', 1);
      if (status.finished) return end(status, 'finished', 0);
      if (q.workers === 0 && status.state === 'ready' && Date.now() - lastNoWorker >= lineMs) {
        lastNoWorker = Date.now();
        line?.stop();
        line = undefined;
        ctx.err(
          `no worker is connected to queue ${q.name}: nothing moves until one starts ("cams-enrich worker")`,
        );
      }
      if (q.alert) {
        line?.stop();
        ctx.err(`queue ${q.name} is paused: ${q.alert.code}: ${q.alert.message}`);
        ctx.err(`${status.pending} numbers stay pending; fix the account, then run "cams-enrich resume"`);
        return end(status, 'paused', 1);
      }
      if (ctx.signal.aborted) {
        line?.stop();
        if (goesOn) {
          ctx.err('interrupted: stopped waiting; nothing is lost.');
          ctx.err(
            `Run ${runId} goes on in the workers (${status.pending} of ${status.total} pending): ` +
              `cams-enrich status --run ${runId}`,
          );
        }
        return end(status, 'interrupted', 1);
      }
      await sleep(pollMs, ctx.signal);
    }
  } finally {
    ctx.signal.removeEventListener('abort', stopLine);
    line?.stop();
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
