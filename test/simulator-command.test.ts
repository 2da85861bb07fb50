/**
 * `cams-enrich simulator` as the CLI calls it: what it prints, which AccessKey it accepts, how it stops.
 */
import { describe, it, expect, afterEach } from 'vitest';
import CamsModule, * as $Cams from '@alicloud/cams20200606';
import { Config as OpenApiConfig } from '@alicloud/openapi-client';
import { CommanderError } from '@commander-js/extra-typings';
import { simulatorCommand, simulatorDefinition } from '../src/commands/simulator.js';
import type { SimulatorFlags } from '../src/commands/simulator.js';
import type { CommandContext, ExitCode } from '../src/commands/context.js';
import { loadConfig } from '../src/config.js';
import { AppError } from '../src/errors.js';
import { createLogger } from '../src/log.js';

function cjsDefault<T>(mod: { default: T }): T {
  return (mod as { default?: T }).default ?? (mod as unknown as T);
}
const Cams = cjsDefault(CamsModule);

interface Running {
  out: string[];
  err: string[];
  stop: () => Promise<ExitCode>;
  endpoint: string;
}

let running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
});

async function start(opts: SimulatorFlags, env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  let seen: (endpoint: string) => void = () => undefined;
  const endpointSeen = new Promise<string>((resolve) => (seen = resolve));
  const ctx: CommandContext = {
    config: loadConfig(env),
    log: createLogger({ level: 'silent' }),
    out: (line) => {
      out.push(line);
      const m = /^export CAMS_ENDPOINT=(\S+)$/.exec(line);
      if (m?.[1]) seen(m[1]);
    },
    err: (line) => err.push(line),
    signal: controller.signal,
  };
  const done = simulatorCommand(opts, ctx);
  const endpoint = await Promise.race([endpointSeen, done.then(() => '')]);
  let stopped: Promise<ExitCode> | undefined;
  const r: Running = {
    out,
    err,
    endpoint,
    stop: () => {
      controller.abort();
      stopped ??= done;
      return stopped;
    },
  };
  running.push(r);
  return r;
}

async function lookup(
  endpoint: string,
  accessKeyId: string,
  accessKeySecret: string,
  securityToken?: string,
): Promise<string> {
  const client = new Cams(
    new OpenApiConfig({ accessKeyId, accessKeySecret, securityToken, endpoint, protocol: 'http' }),
  );
  try {
    const res = await client.queryPhoneBusinessProfile(
      new $Cams.QueryPhoneBusinessProfileRequest({ custSpaceId: 'space', phoneNumber: '8613800001234' }),
    );
    return res.body?.code ?? '';
  } catch (e) {
    return (e as { code?: string }).code ?? '';
  }
}

describe('simulator command', () => {
  it('prints a made-up AccessKey pair that it then accepts, and the endpoint', async () => {
    const r = await start({});
    const id = /^export ALIBABA_CLOUD_ACCESS_KEY_ID=(LTAI\w{20})$/.exec(r.out[0] ?? '')?.[1];
    const secret = /^export ALIBABA_CLOUD_ACCESS_KEY_SECRET=(\w{30})$/.exec(r.out[1] ?? '')?.[1];
    expect(id).toBeDefined();
    expect(secret).toBeDefined();
    expect(r.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await lookup(r.endpoint, id ?? '', secret ?? '')).toBe('OK');
    expect(await lookup(r.endpoint, id ?? '', 'wrong')).toBe('SignatureDoesNotMatch');
    expect(await r.stop()).toBe(0);
    expect(r.err.at(-1)).toMatch(/simulator stopped: 1 calls, 1 ok, 0 throttled, 0 errors, 1 rejected/);
  });

  it('prints only export lines, each of them a shell assignment', async () => {
    const r = await start({});
    expect(r.out).toHaveLength(4);
    for (const line of r.out) expect(line).toMatch(/^export [A-Z_]+=\S+$/);
    expect(r.out.slice(2)).toEqual([`export CAMS_ENDPOINT=${r.endpoint}`, 'export CAMS_PROTOCOL=http']);
  });

  it('accepts a configured STS triple only with its security token', async () => {
    const env = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.configured000000001',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'sts-secret-value',
      ALIBABA_CLOUD_SECURITY_TOKEN: 'sts-token-value',
    };
    const r = await start({}, env);
    expect(r.err[0]).toContain('with its security token');
    expect(
      await lookup(r.endpoint, env.ALIBABA_CLOUD_ACCESS_KEY_ID, env.ALIBABA_CLOUD_ACCESS_KEY_SECRET),
    ).toBe('InvalidSecurityToken.MismatchWithAccessKey');
    expect(
      await lookup(
        r.endpoint,
        env.ALIBABA_CLOUD_ACCESS_KEY_ID,
        env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
        env.ALIBABA_CLOUD_SECURITY_TOKEN,
      ),
    ).toBe('OK');
    expect(
      await lookup(r.endpoint, env.ALIBABA_CLOUD_ACCESS_KEY_ID, env.ALIBABA_CLOUD_ACCESS_KEY_SECRET, 'other'),
    ).toBe('InvalidSecurityToken.MismatchWithAccessKey');
    expect([...r.out, ...r.err].join('\n')).not.toMatch(/sts-secret-value|sts-token-value/);
  });

  it('accepts the configured AccessKey pair and never prints its secret', async () => {
    const env = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIconfigured000000001',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'configured-secret-value',
    };
    const r = await start({ rate: 3, fault: ['http503@^1$'] }, env);
    expect(r.out).toEqual([`export CAMS_ENDPOINT=${r.endpoint}`, 'export CAMS_PROTOCOL=http']);
    expect(
      await lookup(r.endpoint, env.ALIBABA_CLOUD_ACCESS_KEY_ID, env.ALIBABA_CLOUD_ACCESS_KEY_SECRET),
    ).toBe('OK');
    expect([...r.out, ...r.err].join('\n')).not.toContain(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET);
    expect(r.err[0]).toContain('3 calls/s, 1 fault rule(s)');
    expect(await r.stop()).toBe(0);
  });

  it('stops at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const out: string[] = [];
    const code = await simulatorCommand(
      {},
      {
        config: loadConfig({}),
        log: createLogger({ level: 'silent' }),
        out: (l) => out.push(l),
        err: () => undefined,
        signal: controller.signal,
      },
    );
    expect(code).toBe(0);
    expect(out.some((l) => l.startsWith('export CAMS_ENDPOINT='))).toBe(true);
  });

  it.each<[string, string[], RegExp]>([
    ['a port out of range', ['--port', '70000'], /--port/],
    ['a rate of zero', ['--rate', '0'], /--rate/],
    ['an unknown throttle form', ['--throttle-form', 'http429'], /--throttle-form/],
  ])('refuses %s where its flag is defined, as a usage error', (_name, argv, message) => {
    let stderr = '';
    const parse = () =>
      simulatorDefinition()
        .exitOverride()
        .configureOutput({ writeErr: (s) => (stderr += s) })
        .parse(argv, { from: 'user' });
    expect(parse).toThrow(CommanderError);
    expect(stderr).toMatch(message);
  });

  it.each<[string, SimulatorFlags, RegExp]>([['an unreadable fault', { fault: ['Bogus.Code'] }, /--fault/]])(
    'refuses %s as a usage error',
    async (_name, opts, message) => {
      const controller = new AbortController();
      const run = simulatorCommand(opts, {
        config: loadConfig({}),
        log: createLogger({ level: 'silent' }),
        out: () => undefined,
        err: () => undefined,
        signal: controller.signal,
      });
      await expect(run).rejects.toBeInstanceOf(AppError);
      await expect(run).rejects.toMatchObject({
        code: 'USAGE',
        exitCode: 2,
        message: expect.stringMatching(message) as unknown,
      });
    },
  );
});
