/**
 * Structured logs (pino) on stderr, so stdout stays free for a command's own output (`--json`).
 * Phone numbers are masked with `maskPhone` before they reach a log line or a metric label.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level. Default `info`. */
  level?: string;
  /** Where lines go. Default stderr (fd 2). */
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? 2;
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      // Belt and braces: even if a caller logs an object holding these keys, the value is dropped.
      redact: {
        paths: ['accessKeySecret', '*.accessKeySecret', 'secret', '*.secret', 'token', '*.token', 'password'],
        censor: '[redacted]',
      },
    },
    typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination,
  );
}

/** `8613800001234` → `8613*******34`: enough to tell numbers apart in a log, not enough to dial. */
export function maskPhone(phone: string): string {
  if (phone.length <= 6) return '*'.repeat(phone.length);
  return phone.slice(0, 4) + '*'.repeat(phone.length - 6) + phone.slice(-2);
}
