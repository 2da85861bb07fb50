/**
 * One live status line at the bottom of a terminal, drawn so that other output does not tear it:
 * every draw returns to the start of the line, writes text shorter than the terminal is wide (so it
 * never wraps) and clears the rest; it is redrawn a few times a second, so when a log line (ours, or
 * another process's in the same terminal) takes its place, the next draw puts it back below.
 * Log lines on a terminal start by clearing the line they land on (`src/log.ts`), so they never
 * share a line with it. The cursor is hidden while it draws and shown again when it stops, also when
 * the process exits without stopping it. Nothing else about the terminal changes (no saved cursor
 * position, no line-wrap switching), so nothing is left to restore.
 */

const SHOW_CURSOR = '\x1b[?25h';
const HIDE_CURSOR = '\x1b[?25l';
const CLEAR_LINE = '\r\x1b[K';

export interface ProgressLineOptions {
  /** Redraw interval in ms, which repairs the line after other output. Default 100. */
  redrawMs?: number;
}

export interface ProgressLine {
  /** Replaces the line with `text` (cut to the terminal's width). */
  draw(text: string): void;
  /** Removes the line and shows the cursor; `keep` leaves the last text on screen. Idempotent. */
  stop(keep?: boolean): void;
}

/** The width a line may use: one column less than the terminal, so it never wraps. */
export function lineWidth(stream: { columns?: number | undefined }): number {
  return Math.max(20, (stream.columns ?? 80) - 1);
}

export function startProgressLine(
  stream: NodeJS.WritableStream & { columns?: number },
  options: ProgressLineOptions = {},
): ProgressLine {
  let text = '';
  let stopped = false;
  const render = () => stream.write(CLEAR_LINE + text.slice(0, lineWidth(stream)));
  // Runs on process.exit() too (a forced exit): the cursor comes back whatever happens.
  const onExit = () => stream.write(SHOW_CURSOR);
  process.once('exit', onExit);
  stream.write(HIDE_CURSOR);
  const timer = setInterval(render, options.redrawMs ?? 100);
  timer.unref();
  return {
    draw(next) {
      if (stopped) return;
      text = next;
      render();
    },
    stop(keep = true) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      process.off('exit', onExit);
      stream.write(
        keep && text !== ''
          ? `${CLEAR_LINE}${text.slice(0, lineWidth(stream))}\n${SHOW_CURSOR}`
          : `${CLEAR_LINE}${SHOW_CURSOR}`,
      );
    },
  };
}
