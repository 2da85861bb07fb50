/**
 * Structured logs (pino) on stderr, so stdout stays free for a command's own output (`--json`).
 * Phone numbers are masked (`src/mask.ts`) before they reach a log line or a metric label; the
 * logger masks the known phone fields itself too, and drops secrets.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { isatty } from 'node:tty';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { PinoPretty } from 'pino-pretty';
import { maskPhone } from './mask.js';

/**
 * pino-pretty (thirty modules) is loaded only by a logger that prints readable lines: a command whose
 * logs are JSON (a service, a pipe) starts without it. It is CommonJS, so it loads synchronously.
 */
const prettyStream = (options: Parameters<typeof PinoPretty>[0]) =>
  (createRequire(import.meta.url)('pino-pretty') as { PinoPretty: typeof PinoPretty }).PinoPretty(options);

export type { Logger };

export interface LoggerOptions {
  /** pino level. Default `info`. */
  level?: string;
  /** Where lines go. Default stderr (fd 2). */
  destination?: NodeJS.WritableStream | number;
  /**
   * `json`: one JSON object a line (for log collectors); `pretty`: readable lines (pino-pretty).
   * Default `json`. The CLI passes `LOG_FORMAT`, or `pretty` when stderr is a terminal.
   */
  format?: 'json' | 'pretty';
}

const SECRET_KEYS = ['accessKeySecret', 'secret', 'securityToken', 'token', 'password'];
const PHONE_KEYS = ['phone', 'phoneNumber', 'phone_number'];

/**
 * On a terminal, each line starts by clearing the line it lands on (`\r` + erase line): a progress
 * line drawn there (`import --wait`, in this process or another one sharing the terminal) is replaced
 * by the log line instead of being torn by it, and is drawn again below.
 */
function terminalDestination(fd: number): { write(line: string): void } {
  const out = pino.destination({ fd, sync: true });
  return { write: (line: string) => out.write(`\r\x1b[K${line}`) };
}

function writableOf(target: { write(line: string): unknown }): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      target.write(String(chunk));
      done();
    },
  });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? 2;
  const tty = typeof destination === 'number' && isatty(destination);
  const raw =
    typeof destination !== 'number'
      ? destination
      : tty
        ? terminalDestination(destination)
        : pino.destination({ fd: destination, sync: true });
  const stream =
    options.format === 'pretty'
      ? prettyStream({
          // pino-pretty pipes into a stream: the terminal writer goes in one; an fd it opens itself.
          destination: typeof destination === 'number' && !tty ? destination : writableOf(raw),
          sync: true,
          colorize: tty,
          ignore: 'pid,hostname',
          translateTime: 'SYS:HH:MM:ss.l',
        })
      : raw;
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      // Belt and braces: even if a caller logs an object holding these keys, a secret is dropped and
      // a phone number masked (masking twice gives the same text).
      redact: {
        paths: [
          ...SECRET_KEYS,
          ...SECRET_KEYS.map((k) => `*.${k}`),
          ...PHONE_KEYS,
          ...PHONE_KEYS.map((k) => `*.${k}`),
        ],
        censor: (value: unknown, path: string[]) =>
          PHONE_KEYS.includes(path[path.length - 1] ?? '') && typeof value === 'string'
            ? maskPhone(value)
            : '[redacted]',
      },
    },
    stream,
  );
}
