/**
 * Credentials from the chain, as an Alibaba Cloud user has them, against the simulator: a CLI profile,
 * an ini file, an STS triple, credentials refreshed per call, and one clear line when there are none.
 * HOME is a temporary directory handed to the config; no test sets an AccessKey in the environment
 * unless it says so.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { camsClientFromConfig } from '../src/cams/cams-client.js';
import { CamsError } from '../src/cams/cams-error.js';
import { credentialChain, requireCredentialSource } from '../src/cams/credentials.js';
import { forgetAccount } from '../src/queue/rate-controller.js';
import { lookupCommand } from '../src/commands/lookup.js';
import { loadConfig } from '../src/config.js';
import type { ConfigOverrides } from '../src/config.js';
import { AppError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { Simulator, SimulatorKey } from '../src/simulator/simulator.js';
import { deleteQueueKeys, testQueueName, testRedis } from './helpers/services.js';

const SPACE = '2934839388494';
const PHONE = '8613800001234';
const CLI_KEY = { accessKeyId: 'LTAIcliProfileKey0001', accessKeySecret: 'cli-profile-secret-0001' };
const CLI_OTHER = { accessKeyId: 'LTAIcliProfileKey0002', accessKeySecret: 'cli-profile-secret-0002' };
const INI_KEY = { accessKeyId: 'LTAIiniProfileKey0001', accessKeySecret: 'ini-profile-secret-0001' };
const ENV_KEY = { accessKeyId: 'LTAIenvironmentKey001', accessKeySecret: 'environment-secret-001' };
const STS_KEY = {
  accessKeyId: 'STS.stsTemporaryKey001',
  accessKeySecret: 'sts-secret-0001',
  securityToken: 'sts-token-0001',
};

let home: string;
let queue: string;
let sim: Simulator | undefined;
let closeMore: (() => Promise<void>) | undefined;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'cams-enrich-credentials-'));
  queue = testQueueName();
});

afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await closeMore?.();
  closeMore = undefined;
  await rm(home, { recursive: true, force: true });
  const redis = testRedis();
  try {
    await deleteQueueKeys(redis, queue);
    await forgetAccount(redis, queue);
  } finally {
    redis.disconnect();
  }
});

async function simulator(key: SimulatorKey, moreKeys: SimulatorKey[] = []): Promise<Simulator> {
  sim = await startSimulator({ ...key, moreKeys });
  return sim;
}

/** A user's environment: HOME, the simulator, no instance metadata service, plus `extra`. */
function env(s: Simulator, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    HOME: home,
    // A queue and an account of its own: lookup takes its slot from the account's rate controller in Redis.
    CAMS_QUEUE: queue,
    CAMS_ACCOUNT: queue,
    CAMS_ENDPOINT: s.endpoint,
    CAMS_PROTOCOL: 'http',
    ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true',
    ...extra,
  };
}

async function cliConfig(): Promise<void> {
  await mkdir(join(home, '.aliyun'));
  await writeFile(
    join(home, '.aliyun', 'config.json'),
    JSON.stringify({
      current: 'main',
      profiles: [
        {
          name: 'main',
          mode: 'AK',
          access_key_id: CLI_KEY.accessKeyId,
          access_key_secret: CLI_KEY.accessKeySecret,
        },
        {
          name: 'other',
          mode: 'AK',
          access_key_id: CLI_OTHER.accessKeyId,
          access_key_secret: CLI_OTHER.accessKeySecret,
        },
      ],
    }),
  );
}

async function iniFile(profile = 'default'): Promise<void> {
  await mkdir(join(home, '.alibabacloud'), { recursive: true });
  await writeFile(
    join(home, '.alibabacloud', 'credentials'),
    `[${profile}]\ntype = access_key\naccess_key_id = ${INI_KEY.accessKeyId}\naccess_key_secret = ${INI_KEY.accessKeySecret}\n`,
  );
}

async function query(e: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): Promise<string> {
  const cams = await camsClientFromConfig(loadConfig(e, overrides));
  const profile = await cams.queryPhoneBusinessProfile({ custSpaceId: SPACE, phoneNumber: PHONE });
  return profile.requestId;
}

async function missing(e: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): Promise<AppError> {
  const outcome = await requireCredentialSource(loadConfig(e, overrides)).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(AppError);
  return outcome as AppError;
}

describe('the credential chain', () => {
  it('signs with the current profile of ~/.aliyun/config.json when no AccessKey is in the environment', async () => {
    const s = await simulator(CLI_KEY);
    await cliConfig();
    expect(await query(env(s))).toBeTruthy();
    expect(s.counters().ok).toBe(1);
  });

  it('takes the profile named by ALIBABA_CLOUD_PROFILE, and by --profile over it', async () => {
    const s = await simulator(CLI_OTHER);
    await cliConfig();
    await query(env(s, { ALIBABA_CLOUD_PROFILE: 'other' }));
    await query(env(s, { ALIBABA_CLOUD_PROFILE: 'main' }), { profile: 'other' });
    expect(s.counters().ok).toBe(2);
  });

  it('signs with the default profile of the ini file ~/.alibabacloud/credentials', async () => {
    const s = await simulator(INI_KEY);
    await iniFile();
    expect(await query(env(s))).toBeTruthy();
    expect(s.counters().ok).toBe(1);
  });

  it('reads the ini file ALIBABA_CLOUD_CREDENTIALS_FILE names, with a named profile', async () => {
    const s = await simulator(INI_KEY);
    const file = join(home, 'elsewhere.ini');
    await writeFile(
      file,
      `[prod]\ntype = access_key\naccess_key_id = ${INI_KEY.accessKeyId}\naccess_key_secret = ${INI_KEY.accessKeySecret}\n`,
    );
    await query(env(s, { ALIBABA_CLOUD_CREDENTIALS_FILE: file, ALIBABA_CLOUD_PROFILE: 'prod' }));
    expect(s.counters().ok).toBe(1);
  });

  it('prefers an AccessKey in the environment to the files, as the SDKs do', async () => {
    const s = await simulator(ENV_KEY);
    await cliConfig();
    await iniFile();
    await query(
      env(s, {
        ALIBABA_CLOUD_ACCESS_KEY_ID: ENV_KEY.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: ENV_KEY.accessKeySecret,
      }),
    );
    expect(s.counters().ok).toBe(1);
  });

  it('uses only the profile --profile names, even with an AccessKey in the environment', async () => {
    const s = await simulator(INI_KEY);
    await iniFile('prod');
    const e = env(s, {
      ALIBABA_CLOUD_ACCESS_KEY_ID: ENV_KEY.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: ENV_KEY.accessKeySecret,
    });
    await query(e, { profile: 'prod' });
    expect(s.counters().ok).toBe(1);
    const err = await missing(e, { profile: 'nope' });
    expect(err.message).toMatch(/^no credentials for profile 'nope' in .*config\.json or .*credentials: /);
  });

  it('sends the STS security token, which the simulator checks, and never shows it', async () => {
    const s = await simulator(STS_KEY);
    const sts = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: STS_KEY.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: STS_KEY.accessKeySecret,
    };
    await query(env(s, { ...sts, ALIBABA_CLOUD_SECURITY_TOKEN: STS_KEY.securityToken }));
    expect(s.counters().ok).toBe(1);

    const cams = await camsClientFromConfig(
      loadConfig(env(s, { ...sts, ALIBABA_CLOUD_SECURITY_TOKEN: 'stale' })),
    );
    const err = await cams
      .queryPhoneBusinessProfile({ custSpaceId: SPACE, phoneNumber: PHONE })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CamsError);
    expect(err).toMatchObject({
      code: 'InvalidSecurityToken.MismatchWithAccessKey',
      classification: 'permanent',
      scope: 'account',
    });
    for (const text of [
      String(err),
      JSON.stringify(err),
      inspect(err, { depth: 10 }),
      inspect(cams, { depth: 10 }),
    ]) {
      expect(text).not.toMatch(/sts-secret-0001|sts-token-0001|stale/);
    }
  });

  it('asks for credentials on every call, so refreshed temporary credentials are used at once', async () => {
    // A credentials URI handing out STS triples that expire within the refresh margin: the provider
    // fetches anew before each call, and each triple is a different key.
    const triples: SimulatorKey[] = [1, 2, 3].map((n) => ({
      accessKeyId: `STS.rotating00${n}`,
      accessKeySecret: `rotating-secret-${n}`,
      securityToken: `rotating-token-${n}`,
    }));
    let served = 0;
    const server = createServer((_req, res) => {
      const t = triples[Math.min(served, triples.length - 1)] as Required<SimulatorKey>;
      served += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          Code: 'Success',
          AccessKeyId: t.accessKeyId,
          AccessKeySecret: t.accessKeySecret,
          SecurityToken: t.securityToken,
          Expiration: new Date(Date.now() + 5 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closeMore = () => new Promise<void>((resolve) => server.close(() => resolve()));
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/credentials`;
    const s = await simulator(triples[0] as SimulatorKey, triples.slice(1));

    const cams = await camsClientFromConfig(loadConfig(env(s, { ALIBABA_CLOUD_CREDENTIALS_URI: uri })));
    await cams.queryPhoneBusinessProfile({ custSpaceId: SPACE, phoneNumber: PHONE });
    await cams.queryPhoneBusinessProfile({ custSpaceId: SPACE, phoneNumber: PHONE });
    expect(served).toBeGreaterThanOrEqual(3);
    expect(s.counters().ok).toBe(2);
  });

  it('starts over after finding nothing, so credentials written later are picked up', async () => {
    const s = await simulator(INI_KEY);
    const source = credentialChain(loadConfig(env(s)));
    await expect(source.get()).rejects.toThrow(/^no Alibaba Cloud credentials found: /);
    await iniFile();
    expect((await source.get()).accessKeyId).toBe(INI_KEY.accessKeyId);
  });

  it('fails with one line naming every way to provide credentials, exit 2', async () => {
    const s = await simulator(INI_KEY);
    const err = await missing(env(s));
    expect(err).toMatchObject({ code: 'CREDENTIALS_MISSING', exitCode: 2 });
    expect(err.message).not.toContain('\n');
    for (const way of [
      'ALIBABA_CLOUD_ACCESS_KEY_ID',
      'ALIBABA_CLOUD_SECURITY_TOKEN',
      '--profile',
      'ALIBABA_CLOUD_PROFILE',
      '~/.aliyun/config.json',
      '~/.alibabacloud/credentials',
      'ALIBABA_CLOUD_OIDC_TOKEN_FILE',
      'ECS',
    ]) {
      expect(err.message).toContain(way);
    }
  });

  it('does not echo a broken credentials file, which may hold a secret', async () => {
    const s = await simulator(CLI_KEY);
    await mkdir(join(home, '.aliyun'));
    await writeFile(
      join(home, '.aliyun', 'config.json'),
      `{"profiles": [{"access_key_secret": "leaky-secret"`,
    );
    const err = await missing(env(s));
    expect(err.message).not.toContain('leaky-secret');
  });

  it('lets lookup --profile print a profile answer', async () => {
    const s = await simulator(CLI_OTHER);
    await cliConfig();
    const out: string[] = [];
    const code = await lookupCommand(
      PHONE,
      { space: SPACE, json: true },
      {
        config: loadConfig(env(s), { profile: 'other' }),
        log: createLogger({ level: 'silent' }),
        out: (l) => out.push(l),
        err: () => undefined,
        signal: new AbortController().signal,
      },
    );
    expect(code).toBe(0);
    expect(JSON.parse(out[0] ?? '{}')).toMatchObject({ phoneNumber: PHONE });
    expect(out.join('\n')).not.toContain(CLI_OTHER.accessKeySecret);
  });
});
