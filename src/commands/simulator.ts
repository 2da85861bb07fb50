/**
 * `cams-enrich simulator [--port P] [--host H] [--rate R] [--throttle-form F] [--fault RULE ...]`:
 * a local CAMS endpoint for demos, tests and benchmarks, served until SIGINT/SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import { parseFaultRule, type FaultRule } from '../simulator/faults.js';
import { startSimulator, type SimulatorOptions } from '../simulator/simulator.js';
import { THROTTLE_FORMS } from '../cli/flags.js';
import type { SimulatorFlags } from '../cli/flags.js';
import type { CommandContext, ExitCode } from './context.js';

function checkOptions(
  opts: SimulatorFlags,
  defaultRate: number,
): Omit<SimulatorOptions, 'accessKeyId' | 'accessKeySecret'> {
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AppError('USAGE', `--port must be a whole number from 0 to 65535 (got '${String(opts.port)}')`);
  }
  const rate = opts.rate ?? defaultRate;
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new AppError(
      'USAGE',
      `--rate must be a positive number of calls per second (got '${String(opts.rate)}')`,
    );
  }
  const throttleForm = opts.throttleForm ?? 'http400';
  if (!THROTTLE_FORMS.includes(throttleForm)) {
    throw new AppError(
      'USAGE',
      `--throttle-form must be one of ${THROTTLE_FORMS.join(', ')} (got '${String(throttleForm)}')`,
    );
  }
  const host = opts.host ?? '127.0.0.1';
  if (host.trim() === '') throw new AppError('USAGE', '--host must not be empty');
  const faults: FaultRule[] = (opts.fault ?? []).map((text) => {
    try {
      return parseFaultRule(text);
    } catch (err) {
      throw new AppError('USAGE', `--fault: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return { port, host, rate, throttleForm, faults };
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
        `${settings.faults?.length ?? 0} fault rule(s); Ctrl-C stops`,
    );
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const c = sim.counters();
    ctx.err(
      `simulator stopped: ${c.calls} calls, ${c.ok} ok, ${c.throttled} throttled, ${c.errors} errors, ` +
        `${c.rejected} rejected, at most ${c.maxCallsInAnyWindow} admitted in any second`,
    );
  } finally {
    await sim.close();
  }
  return 0;
}
