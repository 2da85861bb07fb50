/**
 * `cams-enrich simulator [--port P] [--host H] [--rate R] [--throttle-form F] [--fault RULE ...]
 * [--jitter MS] [--background SPEC]`:
 * a local CAMS endpoint for demos, tests and benchmarks, served until SIGINT/SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { Command, Option } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { intArg, positiveArg } from '../cli-options.js';
import { AppError } from '../errors.js';
import { parseFaultRule, type FaultRule } from '../simulator/faults.js';
import {
  startSimulator,
  type BackgroundClient,
  type InboundDelay,
  type SimulatorOptions,
} from '../simulator/simulator.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The part of the simulator's `--help` that explains the flags' values. */
const SIMULATOR_HELP = `
Serves QueryPhoneBusinessProfile (2020-06-06) on http://HOST:PORT with ACS3-HMAC-SHA256 checks.
It accepts the AccessKey pair in ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET (with ALIBABA_CLOUD_SECURITY_TOKEN
set, only requests carrying that token), or prints the one it made up. Every line it prints is an
\`export\`: paste them into the shell that runs lookup or the workers.

--throttle-form  http400 (HTTP 400 System.LimitControl), http200 (HTTP 200, Success false) or mixed

--fault RULE (repeatable; first matching rule answers):
  RULE    = ANSWER [%PERCENT] [xCOUNT[/number]] [#SEED] [@REGEX]
  ANSWER  = Product.Unsubscript | Ram.PermissionDeny | System.LimitControl | Unknown.ResourceOwnerId
            (HTTP 400; add :200 for the HTTP 200 Success=false form)
          | http500 | http502 | http503 | slow:MS | hang
  %PERCENT  hit this share of matching calls (seeded by #SEED for repeatable runs)
  xCOUNT    hit only the first COUNT matching calls (/number: the first COUNT per phone number)
  @REGEX    only phone numbers matching REGEX (the rest of the rule, so put it last)
Examples:
  --fault 'Unknown.ResourceOwnerId@^8613900000'   --fault 'http503%5#42'
  --fault 'slow:3000@^55'   --fault 'hang@^8613800000$'   --fault 'http503x2/number'

--jitter MS | MIN-MAX   each request waits a random MIN..MAX ms (MIN 0) before the limiter counts it
--background RATE[:FOR_S[:AFTER_S]]
                        another client of the same AccessKey sends RATE calls/s (evenly spaced),
                        for FOR_S seconds (default: all along), starting AFTER_S seconds in (default 0)
See docs/simulator.md.`;

/** How the simulator answers a throttled call. */
export const THROTTLE_FORMS = ['http400', 'http200', 'mixed'] as const;

export const simulatorDefinition = () =>
  new Command('simulator')
    .description('a local CAMS-compatible endpoint for demos, tests and benchmarks (see docs/simulator.md)')
    .option('--port <P>', 'port (0: any free port)', intArg('--port', 0, 65_535), 0)
    .option('--host <H>', 'address to listen on', '127.0.0.1')
    .option('--rate <R>', 'calls per second per AccessKey', positiveArg('--rate', 100_000), 10)
    .addOption(
      new Option('--throttle-form <FORM>', 'how throttling is answered')
        .choices(THROTTLE_FORMS)
        .default('http400'),
    )
    .option(
      '--fault <RULE>',
      'inject an error (repeatable; syntax below and in docs/simulator.md)',
      collect,
      [],
    )
    .option('--jitter <MS>', "random delay on each request's way in: MAX or MIN-MAX ms")
    .option('--background <SPEC>', 'another client on the AccessKey: RATE[:FOR_S[:AFTER_S]]')
    .addHelpText('after', SIMULATOR_HELP);
export type SimulatorFlags = FlagsOf<typeof simulatorDefinition>;

function checkOptions(
  opts: SimulatorFlags,
  defaultRate: number,
): Omit<SimulatorOptions, 'accessKeyId' | 'accessKeySecret'> {
  const port = opts.port ?? 0;
  const rate = opts.rate ?? defaultRate;
  const throttleForm = opts.throttleForm ?? 'http400';
  const host = opts.host ?? '127.0.0.1';
  if (host.trim() === '') throw new AppError('USAGE', '--host must not be empty');
  const faults: FaultRule[] = (opts.fault ?? []).map((text) => {
    try {
      return parseFaultRule(text);
    } catch (err) {
      throw new AppError('USAGE', `--fault: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return {
    port,
    host,
    rate,
    throttleForm,
    faults,
    inboundDelay: opts.jitter === undefined ? undefined : parseJitter(opts.jitter),
    background: opts.background === undefined ? undefined : parseBackground(opts.background),
  };
}

/** `80` (0–80 ms) or `20-80`. */
export function parseJitter(text: string): InboundDelay {
  const m = /^\s*(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*$/.exec(text);
  const min = m?.[2] === undefined ? 0 : Number(m[1]);
  const max = m?.[2] === undefined ? Number(m?.[1]) : Number(m[2]);
  if (!m || max < min)
    throw new AppError(
      'USAGE',
      `--jitter must be MAX or MIN-MAX milliseconds, e.g. 80 or 20-80 (got '${text}')`,
    );
  return { minMs: min, maxMs: max };
}

/** `4` (all along), `4:30` (for 30 s), `4:30:10` (for 30 s, starting 10 s in). */
export function parseBackground(text: string): BackgroundClient {
  const parts = text.split(':').map((p) => p.trim());
  const nums = parts.map(Number);
  const ok = parts.length <= 3 && parts.every((p) => /^\d+(\.\d+)?$/.test(p)) && (nums[0] ?? 0) > 0;
  if (!ok)
    throw new AppError(
      'USAGE',
      `--background must be RATE[:FOR_SECONDS[:AFTER_SECONDS]] with a positive RATE, e.g. 4 or 4:30 or 4:30:10 (got '${text}')`,
    );
  return {
    rate: nums[0] ?? 0,
    durationMs: nums[1] === undefined ? undefined : nums[1] * 1000,
    startAfterMs: nums[2] === undefined ? undefined : nums[2] * 1000,
  };
}

/** A made-up pair shaped like Alibaba Cloud's (`LTAI` + 20 characters, 30-character secret). */
function madeUpKeyPair(): { accessKeyId: string; accessKeySecret: string } {
  const alnum = (n: number) =>
    [...randomBytes(n)]
      .map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62])
      .join('');
  return { accessKeyId: `LTAI${alnum(20)}`, accessKeySecret: alnum(30) };
}

export async function simulatorCommand(opts: SimulatorFlags, ctx: CommandContext): Promise<ExitCode> {
  const settings = checkOptions(opts, ctx.config.camsRateLimit);
  const configured = ctx.config.accessKeyId !== undefined && ctx.config.accessKeySecret !== undefined;
  const pair = configured
    ? {
        accessKeyId: ctx.config.accessKeyId ?? '',
        accessKeySecret: ctx.config.accessKeySecret?.reveal() ?? '',
        // A configured STS triple: requests must then carry its token too, as CAMS checks it.
        securityToken: ctx.config.credentialSources.securityToken?.reveal(),
      }
    : madeUpKeyPair();

  let sim;
  try {
    sim = await startSimulator({ ...settings, ...pair });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new AppError(
        'USAGE',
        `cannot listen on ${settings.host}:${settings.port} (${code}): choose another --port or --host`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  try {
    // Every line is an `export`, so pasting them all points this shell's lookup and workers here.
    if (!configured) {
      // The simulator's own made-up pair: printing it is the point, it opens nothing else.
      ctx.out(`export ALIBABA_CLOUD_ACCESS_KEY_ID=${pair.accessKeyId}`);
      ctx.out(`export ALIBABA_CLOUD_ACCESS_KEY_SECRET=${pair.accessKeySecret}`);
    }
    ctx.out(`export CAMS_ENDPOINT=${sim.endpoint}`);
    ctx.out('export CAMS_PROTOCOL=http');
    ctx.err(
      `simulator listening on http://${sim.endpoint} for AccessKey ${pair.accessKeyId}` +
        `${configured ? ' (from ALIBABA_CLOUD_ACCESS_KEY_ID)' : ''}` +
        `${'securityToken' in pair && pair.securityToken ? ' with its security token' : ''}, ${settings.rate} calls/s, ` +
        `${settings.faults?.length ?? 0} fault rule(s)` +
        (settings.inboundDelay
          ? `, ${settings.inboundDelay.minMs ?? 0}-${settings.inboundDelay.maxMs} ms delay on the way in`
          : '') +
        (settings.background ? `, another client at ${settings.background.rate} calls/s` : '') +
        '; Ctrl-C stops',
    );
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const c = sim.counters();
    ctx.err(
      `simulator stopped: ${c.calls} calls, ${c.ok} ok, ${c.throttled} throttled, ${c.errors} errors, ` +
        `${c.rejected} rejected, at most ${c.maxCallsInAnyWindow} admitted in any second` +
        (c.background.calls > 0
          ? `; the other client: ${c.background.ok} admitted, ${c.background.throttled} throttled`
          : ''),
    );
  } finally {
    await sim.close();
  }
  return 0;
}

export const commandLine: CommandLine = (host) =>
  simulatorDefinition().action(async (opts) => host.exit(await simulatorCommand(opts, host.context())));
