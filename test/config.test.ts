import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { environmentCredentials, loadConfig, Secret } from '../src/config.js';
import { AppError } from '../src/errors.js';

const SECRET = 'sEcReT-value-1234567890';

function configError(env: NodeJS.ProcessEnv): AppError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

function credentialsError(env: NodeJS.ProcessEnv): AppError {
  try {
    environmentCredentials(loadConfig(env));
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error(`environmentCredentials accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('puts the ledger on the embedded server when DATABASE_URL is unset, on its socket under CAMS_DATA_DIR', () => {
    const config = loadConfig({ CAMS_DATA_DIR: '/srv/cams' });
    expect(config).toMatchObject({
      databaseEmbedded: true,
      dataDir: '/srv/cams',
      databaseUrl: 'postgres://postgres@%2Fsrv%2Fcams%2Frun/cams_enrich',
    });
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x', CAMS_DATA_DIR: '/srv/cams' })).toMatchObject({
      databaseEmbedded: false,
      databaseUrl: 'postgres://db/x',
    });
    expect(loadConfig({ HOME: '/home/ana' }).dataDir).toBe(
      process.getuid?.() === 0 ? '/var/lib/cams-enrich' : '/home/ana/.local/share/cams-enrich',
    );
    expect(loadConfig({ HOME: '/home/ana', XDG_DATA_HOME: '/data' }).dataDir).toBe(
      process.getuid?.() === 0 ? '/var/lib/cams-enrich' : '/data/cams-enrich',
    );
    expect(() => loadConfig({ CAMS_DATA_DIR: 'relative/dir' })).toThrow(
      /CAMS_DATA_DIR must be an absolute path/,
    );
  });

  it('uses the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.redisUrl).toBeUndefined();
    expect(config.queueStore).toBe('postgres');
    expect(config.databaseEmbedded).toBe(true);
    expect(config.camsRegion).toBe('ap-southeast-1');
    expect(config.camsEndpoint).toBe('cams.ap-southeast-1.aliyuncs.com');
    expect(config.camsProtocol).toBe('https');
    expect(config.camsRateLimit).toBe(10);
    expect(config.accessKeyId).toBeUndefined();
    expect(config.accessKeySecret).toBeUndefined();
    expect(config.schema).toBe('cams_enrich');
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig({
      REDIS_URL: '',
      DATABASE_URL: '',
      CAMS_PROTOCOL: '',
      CAMS_RATE_LIMIT: '',
      CAMS_ENDPOINT: '',
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.queueStore).toBe('postgres');
    expect(config.camsProtocol).toBe('https');
    expect(config.camsRateLimit).toBe(10);
    expect(config.camsEndpoint).toBe('cams.ap-southeast-1.aliyuncs.com');
  });

  it('builds the regional endpoint from CAMS_REGION', () => {
    expect(loadConfig({ CAMS_REGION: 'cn-hangzhou' }).camsEndpoint).toBe('cams.cn-hangzhou.aliyuncs.com');
  });

  it('lets CAMS_ENDPOINT override the regional endpoint, with or without a port', () => {
    expect(loadConfig({ CAMS_ENDPOINT: '127.0.0.1:8080', CAMS_REGION: 'cn-hangzhou' }).camsEndpoint).toBe(
      '127.0.0.1:8080',
    );
    expect(loadConfig({ CAMS_ENDPOINT: 'cams-proxy.internal' }).camsEndpoint).toBe('cams-proxy.internal');
  });

  it('takes a port from 1 to 65535 and an IPv6 address in brackets in CAMS_ENDPOINT', () => {
    expect(loadConfig({ CAMS_ENDPOINT: '[::1]:8089' }).camsEndpoint).toBe('[::1]:8089');
    expect(loadConfig({ CAMS_ENDPOINT: '[::1]' }).camsEndpoint).toBe('[::1]');
    expect(loadConfig({ CAMS_ENDPOINT: 'proxy:65535' }).camsEndpoint).toBe('proxy:65535');
    expect(configError({ CAMS_ENDPOINT: '127.0.0.1:99999' }).message).toBe(
      "CAMS_ENDPOINT port must be from 1 to 65535 (got '127.0.0.1:99999')",
    );
  });

  it('reads numbers in plain decimal digits only', () => {
    expect(loadConfig({ CAMS_ATTEMPTS: ' 16 ', CAMS_RATE_LIMIT: '2.5' })).toMatchObject({
      attempts: 16,
      camsRateLimit: 2.5,
    });
    expect(configError({ CAMS_ATTEMPTS: '0x10' }).message).toBe(
      "CAMS_ATTEMPTS must be a positive whole number of at most 1000 (got '0x10')",
    );
  });

  it('reads the values it is given', () => {
    const config = loadConfig({
      REDIS_URL: 'redis://cache:6380/3',
      DATABASE_URL: 'postgresql://app:pw@db:5433/crm',
      CAMS_PROTOCOL: 'HTTP',
      CAMS_RATE_LIMIT: '2.5',
    });
    expect(config.redisUrl).toBe('redis://cache:6380/3');
    expect(config.databaseUrl).toBe('postgresql://app:pw@db:5433/crm');
    expect(config.camsProtocol).toBe('http');
    expect(config.camsRateLimit).toBe(2.5);
    expect(loadConfig({ CAMS_SCHEMA: 'Crm_Ledger' }).schema).toBe('Crm_Ledger');
  });

  it('reads REDIS_CLUSTER, and refuses a database index with it, naming REDIS_URL', () => {
    expect(loadConfig({}).redisCluster).toBe(false);
    expect(loadConfig({ REDIS_CLUSTER: 'true', REDIS_URL: 'redis://node-1:7000' }).redisCluster).toBe(true);
    const err = configError({ REDIS_CLUSTER: 'true', REDIS_URL: 'redis://node-1:7000/3' });
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('REDIS_URL');
  });

  it('tells whether the quota was given, and reads CAMS_ACCOUNT', () => {
    expect(loadConfig({}).camsRateLimitGiven).toBe(false);
    expect(loadConfig({ CAMS_RATE_LIMIT: '20' }).camsRateLimitGiven).toBe(true);
    expect(loadConfig({}, { camsRateLimit: 20 }).camsRateLimitGiven).toBe(true);
    expect(loadConfig({ CAMS_ACCOUNT: ' 1234567890123456 ' }).camsAccount).toBe('1234567890123456');
  });

  it('applies overrides over the environment', () => {
    const config = loadConfig({ CAMS_RATE_LIMIT: '10' }, { camsRateLimit: 3 });
    expect(config.camsRateLimit).toBe(3);
  });

  const bad: [string, string][] = [
    ['CAMS_RATE_LIMIT', 'abc'],
    ['CAMS_RATE_LIMIT', '0'],
    ['CAMS_RATE_LIMIT', '-5'],
    ['CAMS_PROTOCOL', 'ftp'],
    ['REDIS_URL', 'http://x'],
    ['REDIS_URL', 'not a url'],
    ['DATABASE_URL', 'nope'],
    ['DATABASE_URL', 'mysql://db/app'],
    ['CAMS_ENDPOINT', 'http://host'],
    ['CAMS_ENDPOINT', 'host/path'],
    ['CAMS_ENDPOINT', '127.0.0.1:99999'],
    ['CAMS_ENDPOINT', '127.0.0.1:0'],
    ['CAMS_ENDPOINT', '::1:8080'],
    ['CAMS_ENDPOINT', '[nothost]:8080'],
    ['CAMS_RATE_LIMIT', '0x10'],
    ['CAMS_RATE_LIMIT', '1e3'],
    ['CAMS_RATE_LIMIT', 'Infinity'],
    ['CAMS_ATTEMPTS', '0x10'],
    ['CAMS_ATTEMPTS', '0b11'],
    ['CAMS_ATTEMPTS', '2.5'],
    ['CAMS_READ_TIMEOUT_MS', '2e4'],
    ['CAMS_QUEUE_HIGH_WATER', '+100'],
    ['CAMS_SCHEMA', 'ledger; DROP TABLE runs'],
    ['CAMS_SCHEMA', 'pg_catalog'],
    ['CAMS_SCHEMA', '9lives'],
    ['REDIS_CLUSTER', 'yes please'],
    ['CAMS_ACCOUNT', '{acct:other}'],
  ];
  it.each(bad)('refuses %s=%j with CONFIG_INVALID naming the variable', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(name);
    expect(err.message).not.toContain('\n');
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { camsRateLimit: number }).camsRateLimit = 99;
    }).toThrow(TypeError);
    expect(config.camsRateLimit).toBe(10);
  });

  describe('the AccessKey secret', () => {
    const config = loadConfig({
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIexample',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET,
    });

    it('is kept and can be revealed for signing', () => {
      expect(config.accessKeyId).toBe('LTAIexample');
      expect(config.accessKeySecret).toBeInstanceOf(Secret);
      expect(config.accessKeySecret?.reveal()).toBe(SECRET);
    });

    it('never shows in JSON', () => {
      const json = JSON.stringify(config);
      expect(json).not.toContain(SECRET);
      expect(json).toContain('LTAIexample');
    });

    it('never shows as a string or in a template', () => {
      expect(String(config.accessKeySecret)).not.toContain(SECRET);
      expect(`${String(config.accessKeySecret)}`).toBe('[redacted]');
      expect(`${config.accessKeySecret}`).not.toContain(SECRET);
    });

    it('never shows in util.inspect', () => {
      const shown = inspect(config, { depth: 5, showHidden: true });
      expect(shown).not.toContain(SECRET);
      expect(shown).toContain('redacted');
    });
  });

  it('refuses a DASHBOARD_TOKEN that a bearer header cannot carry, naming the variable', () => {
    expect(() => loadConfig({ DASHBOARD_TOKEN: 'two words' })).toThrow(/DASHBOARD_TOKEN must be/);
    expect(() => loadConfig({ DASHBOARD_TOKEN: 'tok\u00e9n' })).toThrow(/DASHBOARD_TOKEN must be/);
    expect(loadConfig({ DASHBOARD_TOKEN: 'abc-DEF_1.2~3+4/5==' }).dashboardToken?.reveal()).toBe(
      'abc-DEF_1.2~3+4/5==',
    );
  });

  it('reads DASHBOARD_URL without a trailing slash, and refuses one that is not http(s) or carries credentials', () => {
    expect(loadConfig({ DASHBOARD_URL: 'https://cams.example.com/console/' }).dashboardUrl).toBe(
      'https://cams.example.com/console',
    );
    expect(loadConfig({}).dashboardUrl).toBeUndefined();
    expect(() => loadConfig({ DASHBOARD_URL: 'cams.example.com' })).toThrow(/DASHBOARD_URL must be an http/);
    expect(() => loadConfig({ DASHBOARD_URL: 'ftp://cams.example.com' })).toThrow(
      /DASHBOARD_URL must be an http/,
    );
    expect(() => loadConfig({ DASHBOARD_URL: 'https://admin:tok@cams.example.com' })).toThrow(
      /DASHBOARD_URL must not carry/,
    );
  });

  it('keeps DASHBOARD_TOKEN out of JSON and inspect too', () => {
    const config = loadConfig({ DASHBOARD_TOKEN: SECRET });
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(inspect(config, { depth: 5 })).not.toContain(SECRET);
    expect(config.dashboardToken?.reveal()).toBe(SECRET);
  });
});

describe('environmentCredentials', () => {
  it('returns the pair when both are set, with the STS token when there is one', () => {
    const creds = environmentCredentials(
      loadConfig({ ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIexample', ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET }),
    );
    expect(creds?.accessKeyId).toBe('LTAIexample');
    expect(creds?.accessKeySecret.reveal()).toBe(SECRET);
    expect(creds?.securityToken).toBeUndefined();
    const sts = environmentCredentials(
      loadConfig({
        ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.example',
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET,
        ALIBABA_CLOUD_SECURITY_TOKEN: 'token-value',
      }),
    );
    expect(sts?.securityToken?.reveal()).toBe('token-value');
    expect(inspect(sts)).not.toMatch(/token-value|sEcReT/);
  });

  it('is undefined when neither half is set (the chain then looks elsewhere)', () => {
    expect(environmentCredentials(loadConfig({}))).toBeUndefined();
  });

  it('names ALIBABA_CLOUD_ACCESS_KEY_SECRET when only the id is set', () => {
    const err = credentialsError({ ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIexample' });
    expect(err.code).toBe('CREDENTIALS_MISSING');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/^ALIBABA_CLOUD_ACCESS_KEY_SECRET /);
    expect(err.message).not.toContain('LTAIexample');
    expect(err.message).not.toContain('\n');
  });

  it('treats a blank id as missing', () => {
    const err = credentialsError({
      ALIBABA_CLOUD_ACCESS_KEY_ID: '   ',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET,
    });
    expect(err.message).toMatch(/^ALIBABA_CLOUD_ACCESS_KEY_ID /);
    expect(err.message).not.toContain(SECRET);
  });
});

describe('credential sources', () => {
  it('reads HOME, the profile and the RRSA settings from the environment it is given', () => {
    const c = loadConfig({
      HOME: '/tmp/some-home',
      ALIBABA_CLOUD_PROFILE: 'prod',
      ALIBABA_CLOUD_ROLE_ARN: 'acs:ram::1:role/r',
      ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'TRUE',
    }).credentialSources;
    expect(c).toMatchObject({
      home: '/tmp/some-home',
      profile: 'prod',
      profileFromFlag: false,
      roleArn: 'acs:ram::1:role/r',
      ecsMetadataDisabled: true,
      cliProfileDisabled: false,
    });
  });

  it('lets --profile win over ALIBABA_CLOUD_PROFILE and marks it as given on the command line', () => {
    const c = loadConfig({ ALIBABA_CLOUD_PROFILE: 'prod' }, { profile: 'staging' }).credentialSources;
    expect(c.profile).toBe('staging');
    expect(c.profileFromFlag).toBe(true);
  });
});
