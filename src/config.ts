/**
 * The one place that reads `process.env`. Everything else receives the frozen `Config` it returns.
 * A bad value fails at start with one line naming the variable.
 */
import { isAbsolute } from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';
import { dataDirectory, embeddedDatabaseUrl } from './data-dir.js';
import { parseDuration } from './duration.js';
import { parseEndpoint } from './endpoint.js';
import { AppError } from './errors.js';

/** A secret string that never prints itself: not in logs, JSON, `util.inspect` or template strings. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The real value, for the one call that needs it (signing a request). */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

export interface Config {
  /**
   * Where the queue lives (`src/queue/queue-store.ts`): `redis` when `REDIS_URL` is set (the fleet),
   * `postgres` when it is not (BullMQ's PostgreSQL backend on the ledger's server).
   */
  readonly queueStore: 'redis' | 'postgres';
  /** BullMQ's Redis (`REDIS_URL`); a DB index in the URL is honoured. Default none: the queue is on PostgreSQL. */
  readonly redisUrl: string | undefined;
  /**
   * `REDIS_CLUSTER=true`: `REDIS_URL` names one node of a Redis Cluster (the others are discovered), and
   * every queue's keys go under the queue's hash tag. Default false.
   */
  readonly redisCluster: boolean;
  /**
   * PostgreSQL of record (`DATABASE_URL`). Unset: the embedded server's `cams_enrich` database on its
   * socket under `dataDir` (`databaseEmbedded`), which the first command that needs it starts.
   */
  readonly databaseUrl: string;
  /** True when `DATABASE_URL` is unset: the ledger is on the embedded server (`src/embedded/`). */
  readonly databaseEmbedded: boolean;
  /**
   * Schema of the ledger's own tables (`CAMS_SCHEMA`); `business_profiles` and the `failed_numbers`
   * view stay in `public`. Default `cams_enrich`.
   */
  readonly schema: string;
  /**
   * Where the embedded PostgreSQL server keeps its data, socket and log (`CAMS_DATA_DIR`). Default
   * `$XDG_DATA_HOME/cams-enrich` or `~/.local/share/cams-enrich`; `/var/lib/cams-enrich` for root.
   */
  readonly dataDir: string;
  /** AccessKey pair from the environment; one of the credential chain's sources (`src/cams/credentials.ts`). */
  readonly accessKeyId: string | undefined;
  readonly accessKeySecret: Secret | undefined;
  /** The rest of what the credential chain reads (profiles, RRSA, ECS RAM role). */
  readonly credentialSources: CredentialSources;
  /** Region of the regional endpoint `cams.<region>.aliyuncs.com`. Default `ap-southeast-1`. */
  readonly camsRegion: string;
  /** `host[:port]` of the CAMS endpoint: `CAMS_ENDPOINT`, else the regional endpoint. */
  readonly camsEndpoint: string;
  /** `https` (default) or `http`. */
  readonly camsProtocol: 'https' | 'http';
  /**
   * Calls per second allowed for one account, enforced across every worker (`CAMS_RATE_LIMIT`, `--rate`).
   * The fleet runs under the quota stored with the rate controller; this is the one a process stores
   * when none is stored, or checks against it. Default 10.
   */
  readonly camsRateLimit: number;
  /** True when `CAMS_RATE_LIMIT` or `--rate` gave the quota (false: the default of 10). */
  readonly camsRateLimitGiven: boolean;
  /**
   * The account whose quota the rate controller keeps (`CAMS_ACCOUNT`): the Alibaba Cloud account id or
   * any name every process of the account uses. Unset: a hash of a long-term AccessKeyId. Default none.
   */
  readonly camsAccount: string | undefined;
  /** Connect timeout for CAMS calls in ms (`CAMS_CONNECT_TIMEOUT_MS`). Default 5000. */
  readonly camsConnectTimeoutMs: number;
  /** Read timeout for CAMS calls in ms (`CAMS_READ_TIMEOUT_MS`). Default 10000. */
  readonly camsReadTimeoutMs: number;
  /** BullMQ queue name (`CAMS_QUEUE`). Default `cams-enrich`. */
  readonly queueName: string;
  /** Most jobs kept in Redis at once (`CAMS_QUEUE_HIGH_WATER`). Default 10000. */
  readonly queueHighWater: number;
  /** Attempts for transient faults before a number is failed (`CAMS_ATTEMPTS`). Default 6. */
  readonly attempts: number;
  /**
   * How long a stopping worker waits for the jobs in hand before it abandons them to stall recovery
   * and exits, in ms (`CAMS_SHUTDOWN_GRACE`, a duration such as `30s`; `--grace` overrides). Default 30000.
   */
  readonly shutdownGraceMs: number;
  /**
   * How long a worker waits at start for Redis to be ready before it exits 1, in ms
   * (`REDIS_READY_TIMEOUT_MS`); the other commands wait at most 10 s. Default 60000.
   */
  readonly redisReadyTimeoutMs: number;
  /**
   * Moves this process's clock by this many ms (`CAMS_CLOCK_OFFSET_MS`, negative for behind), for its
   * clock check against Redis and its CAMS request timestamps: a diagnostic, to see what a machine with
   * a wrong clock does without changing the system clock. Default 0.
   */
  readonly clockOffsetMs: number;
  /** pino level (`LOG_LEVEL`). Default `info`. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `LOG_FORMAT`: `json` or `pretty`; unset lets the CLI choose (pretty on a terminal). */
  readonly logFormat: 'json' | 'pretty' | undefined;
  /** Opens the dashboard to the network when set (`DASHBOARD_TOKEN`). */
  readonly dashboardToken: Secret | undefined;
  /** Where people reach the dashboard (`DASHBOARD_URL`), without a trailing slash: `status --run` prints the run's page there. */
  readonly dashboardUrl: string | undefined;
  /**
   * `METRICS_SPACE_LABELS=true`: workers also count each customer space's CAMS calls by outcome (a
   * `space` label: one series per space and outcome). Default false.
   */
  readonly metricsSpaceLabels: boolean;
}

/**
 * Where Alibaba Cloud credentials may come from besides the AccessKey pair, named as the Alibaba Cloud
 * SDKs and CLI name them. The chain that reads them lives in `src/cams/credentials.ts`.
 */
export interface CredentialSources {
  /** STS token that goes with a temporary AccessKey pair (`ALIBABA_CLOUD_SECURITY_TOKEN`). */
  readonly securityToken: Secret | undefined;
  /**
   * Profile name in `~/.aliyun/config.json` and `~/.alibabacloud/credentials`: `--profile`, else
   * `ALIBABA_CLOUD_PROFILE`; unset means the CLI's current profile and the ini file's `default`.
   */
  readonly profile: string | undefined;
  /** True when `profile` came from `--profile`: then that profile is the only source. */
  readonly profileFromFlag: boolean;
  /** The home directory holding `.aliyun/` and `.alibabacloud/` (`HOME`). */
  readonly home: string | undefined;
  /** ini credentials file (`ALIBABA_CLOUD_CREDENTIALS_FILE`). Default `~/.alibabacloud/credentials`. */
  readonly credentialsFile: string | undefined;
  /** RRSA/OIDC: `ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE`. */
  readonly roleArn: string | undefined;
  readonly oidcProviderArn: string | undefined;
  readonly oidcTokenFile: string | undefined;
  /** `ALIBABA_CLOUD_ROLE_SESSION_NAME`, `ALIBABA_CLOUD_STS_REGION` for the OIDC role session. */
  readonly roleSessionName: string | undefined;
  readonly stsRegion: string | undefined;
  /** ECS RAM role name (`ALIBABA_CLOUD_ECS_METADATA`); unset asks the instance metadata service. */
  readonly ecsRoleName: string | undefined;
  /** `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true` skips the ECS RAM role. */
  readonly ecsMetadataDisabled: boolean;
  /** `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true` skips `~/.aliyun/config.json`. */
  readonly cliProfileDisabled: boolean;
  /** A URL serving credentials (`ALIBABA_CLOUD_CREDENTIALS_URI`). */
  readonly credentialsUri: string | undefined;
}

/** `true`/`1` or `false`/`0`/unset, any case. */
const flag = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = (v ?? '').trim().toLowerCase();
      if (value === '' || value === 'false' || value === '0') return false;
      if (value === 'true' || value === '1') return true;
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false (got '${v}')` });
      return z.NEVER;
    });

/** A positive number (a whole one when `integer`) of at most `max`, in decimal digits; `def` when unset. */
const positive = (name: string, def: number, integer: boolean, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      // Plain decimal digits only: Number() would also read `0x10`, `1e3`, `0b11` and `Infinity`.
      const plain = integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
      const n = plain.test(v.trim()) ? Number(v) : NaN;
      if (!(integer ? Number.isSafeInteger(n) : Number.isFinite(n)) || n <= 0 || n > max) {
        const what = integer ? 'a positive whole number' : 'a positive number';
        ctx.addIssue({ code: 'custom', message: `${name} must be ${what} of at most ${max} (got '${v}')` });
        return z.NEVER;
      }
      return n;
    });
const positiveInt = (name: string, def: number, max: number) => positive(name, def, true, max);

/** Longest shutdown grace period: a stop must end in bounded time. */
export const MAX_SHUTDOWN_GRACE_MS = 3_600_000;

/** A shutdown grace period: a duration (`30s`, `2m`, `0`) of at most an hour. Throws AppError('USAGE'). */
export function parseGrace(value: string, name: string): number {
  const ms = parseDuration(value, name);
  if (ms > MAX_SHUTDOWN_GRACE_MS) {
    throw new AppError('USAGE', `${name} ${JSON.stringify(value)} is too long: at most 1h`);
  }
  return ms;
}

const grace = (name: string, def: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      try {
        return parseGrace(v, name);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

/** `value` when it is a URL of one of `protocols` that `check` accepts; otherwise an issue naming `name`. */
function checkUrl(
  name: string,
  protocols: string[],
  value: string,
  ctx: z.RefinementCtx,
  check?: (u: URL) => string | undefined,
): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `${name} is not a URL` });
    return z.NEVER;
  }
  if (!protocols.includes(parsed.protocol)) {
    ctx.addIssue({ code: 'custom', message: `${name} must start with ${protocols.join(' or ')}//` });
    return z.NEVER;
  }
  const problem = check?.(parsed);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: `${name} ${problem}` });
    return z.NEVER;
  }
  return value;
}

/** A URL of one of `protocols`; `def` when unset. */
const url = (name: string, protocols: string[], def: string, check?: (u: URL) => string | undefined) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => checkUrl(name, protocols, v === undefined || v === '' ? def : v, ctx, check));

/** A URL of one of `protocols`, or undefined when unset. */
const optionalUrl = (name: string, protocols: string[], check?: (u: URL) => string | undefined) =>
  z
    .string()
    .optional()
    .transform((v, ctx): string | undefined =>
      v === undefined || v === '' ? undefined : checkUrl(name, protocols, v, ctx, check),
    );

/** Redis URLs select a database by its index in the path (`redis://host:6379/3`); anything else is a mistake. */
function redisDatabaseProblem(u: URL): string | undefined {
  const path = decodeURIComponent(u.pathname);
  if (path === '' || path === '/') return undefined;
  const index = /^\/(\d{1,9})$/.exec(path)?.[1];
  return index === undefined
    ? `must end with a database index such as /0 or nothing (got '${path}'): fix the path of the URL`
    : undefined;
}

/** The schema of the ledger's own tables when `CAMS_SCHEMA` is unset. */
export const DEFAULT_SCHEMA = 'cams_enrich';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  REDIS_URL: optionalUrl('REDIS_URL', ['redis:', 'rediss:'], redisDatabaseProblem),
  DATABASE_URL: url(
    'DATABASE_URL',
    ['postgres:', 'postgresql:'],
    'postgres://postgres@127.0.0.1:5432/postgres',
  ),
  CAMS_SCHEMA: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v === '' ? DEFAULT_SCHEMA : v;
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value) || value.toLowerCase().startsWith('pg_')) {
        ctx.addIssue({
          code: 'custom',
          message: `CAMS_SCHEMA must be a schema name of letters, digits and _ not starting with pg_ (got '${v}')`,
        });
        return z.NEVER;
      }
      return value;
    }),
  ALIBABA_CLOUD_ACCESS_KEY_ID: optionalString,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: optionalString,
  CAMS_REGION: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v === '' ? 'ap-southeast-1' : v;
      if (!/^[a-z0-9-]+$/.test(value)) {
        ctx.addIssue({ code: 'custom', message: `CAMS_REGION must look like ap-southeast-1 (got '${v}')` });
        return z.NEVER;
      }
      return value;
    }),
  CAMS_ENDPOINT: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const parsed = parseEndpoint(v);
    if ('problem' in parsed) {
      ctx.addIssue({ code: 'custom', message: `CAMS_ENDPOINT ${parsed.problem}` });
      return z.NEVER;
    }
    return v;
  }),
  CAMS_PROTOCOL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v === '' ? 'https' : v.toLowerCase();
      if (value !== 'https' && value !== 'http') {
        ctx.addIssue({ code: 'custom', message: `CAMS_PROTOCOL must be https or http (got '${v}')` });
        return z.NEVER;
      }
      return value as 'https' | 'http';
    }),
  CAMS_RATE_LIMIT: positive('CAMS_RATE_LIMIT', 10, false, 100_000),
  CAMS_ACCOUNT: optionalString.refine((v) => v === undefined || /^[A-Za-z0-9_.@-]{1,128}$/.test(v), {
    message: 'CAMS_ACCOUNT may hold letters, digits, _ . @ and - (at most 128)',
  }),
  CAMS_CONNECT_TIMEOUT_MS: positiveInt('CAMS_CONNECT_TIMEOUT_MS', 5000, 3_600_000),
  CAMS_READ_TIMEOUT_MS: positiveInt('CAMS_READ_TIMEOUT_MS', 10000, 3_600_000),
  CAMS_QUEUE: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v === '' ? 'cams-enrich' : v;
      if (!/^[A-Za-z0-9_-]+$/.test(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `CAMS_QUEUE may hold letters, digits, _ and - (got '${v}')`,
        });
        return z.NEVER;
      }
      return value;
    }),
  CAMS_QUEUE_HIGH_WATER: positiveInt('CAMS_QUEUE_HIGH_WATER', 10000, 10_000_000),
  CAMS_ATTEMPTS: positiveInt('CAMS_ATTEMPTS', 6, 1000),
  CAMS_SHUTDOWN_GRACE: grace('CAMS_SHUTDOWN_GRACE', 30_000),
  REDIS_READY_TIMEOUT_MS: positiveInt('REDIS_READY_TIMEOUT_MS', 60_000, 3_600_000),
  CAMS_CLOCK_OFFSET_MS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return 0;
      const n = /^\s*-?\d{1,12}\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || Math.abs(n) > 31_536_000_000) {
        ctx.addIssue({
          code: 'custom',
          message: `CAMS_CLOCK_OFFSET_MS must be a whole number of ms, at most a year either way (got '${v}')`,
        });
        return z.NEVER;
      }
      return n;
    }),
  REDIS_CLUSTER: flag('REDIS_CLUSTER'),
  METRICS_SPACE_LABELS: flag('METRICS_SPACE_LABELS'),
  LOG_LEVEL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
      const value = v === undefined || v === '' ? 'info' : v.toLowerCase();
      if (!(levels as readonly string[]).includes(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `LOG_LEVEL must be one of ${levels.join(', ')} (got '${v}')`,
        });
        return z.NEVER;
      }
      return value as Config['logLevel'];
    }),
  LOG_FORMAT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const value = v.toLowerCase();
      if (value !== 'json' && value !== 'pretty') {
        ctx.addIssue({ code: 'custom', message: `LOG_FORMAT must be json or pretty (got '${v}')` });
        return z.NEVER;
      }
      return value as 'json' | 'pretty';
    }),
  DASHBOARD_TOKEN: optionalString.transform((v, ctx) => {
    // What an Authorization header can carry as a bearer token (RFC 6750's token68).
    if (v !== undefined && !/^[A-Za-z0-9._~+/-]+=*$/.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'DASHBOARD_TOKEN must be letters, digits and - . _ ~ + / (then = padding): a bearer token cannot carry blanks or other characters',
      });
      return z.NEVER;
    }
    return v;
  }),
  DASHBOARD_URL: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `DASHBOARD_URL must be an http or https URL (got '${v}')` });
      return z.NEVER;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: `DASHBOARD_URL must be an http or https URL (got '${v}')` });
      return z.NEVER;
    }
    if (url.username !== '' || url.password !== '') {
      // It is printed by status: a token in it would be printed too.
      ctx.addIssue({ code: 'custom', message: 'DASHBOARD_URL must not carry a user name or password' });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, '');
  }),
  ALIBABA_CLOUD_SECURITY_TOKEN: optionalString,
  ALIBABA_CLOUD_PROFILE: optionalString,
  HOME: optionalString,
  CAMS_DATA_DIR: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      if (!isAbsolute(v)) {
        ctx.addIssue({ code: 'custom', message: `CAMS_DATA_DIR must be an absolute path (got '${v}')` });
        return z.NEVER;
      }
      return v;
    }),
  XDG_DATA_HOME: optionalString,
  ALIBABA_CLOUD_CREDENTIALS_FILE: optionalString,
  ALIBABA_CLOUD_ROLE_ARN: optionalString,
  ALIBABA_CLOUD_OIDC_PROVIDER_ARN: optionalString,
  ALIBABA_CLOUD_OIDC_TOKEN_FILE: optionalString,
  ALIBABA_CLOUD_ROLE_SESSION_NAME: optionalString,
  ALIBABA_CLOUD_STS_REGION: optionalString,
  ALIBABA_CLOUD_ECS_METADATA: optionalString,
  ALIBABA_CLOUD_ECS_METADATA_DISABLED: optionalString,
  ALIBABA_CLOUD_CLI_PROFILE_DISABLED: optionalString,
  ALIBABA_CLOUD_CREDENTIALS_URI: optionalString,
});

/** Values a command line flag may set over the environment. */
export type ConfigOverrides = Partial<
  Pick<Config, 'camsRateLimit' | 'queueName' | 'camsEndpoint' | 'camsProtocol'>
> & {
  /** `--profile NAME`: the credential profile, over `ALIBABA_CLOUD_PROFILE`. */
  profile?: string | undefined;
};

/**
 * Reads and validates the environment. Throws `AppError('CONFIG_INVALID')` naming the first bad
 * variable. The result is frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const message = issue?.message ?? 'invalid value';
    throw new AppError('CONFIG_INVALID', message.includes(variable) ? message : `${variable}: ${message}`);
  }
  const e = parsed.data;
  if (e.REDIS_CLUSTER && e.REDIS_URL === undefined) {
    throw new AppError(
      'CONFIG_INVALID',
      'REDIS_CLUSTER=true needs REDIS_URL: set it to one node of the cluster',
    );
  }
  if (e.REDIS_CLUSTER && e.REDIS_URL && !/^\/?0?$/.test(new URL(e.REDIS_URL).pathname)) {
    throw new AppError(
      'CONFIG_INVALID',
      'REDIS_URL selects a database, but a Redis Cluster has only database 0 (REDIS_CLUSTER=true): remove the /N from REDIS_URL',
    );
  }
  const { profile, ...flags } = overrides;
  const dataDir = dataDirectory({
    dataDir: e.CAMS_DATA_DIR,
    xdgDataHome: e.XDG_DATA_HOME,
    home: e.HOME,
    uid: process.getuid?.() ?? -1,
  });
  const databaseEmbedded = (env.DATABASE_URL ?? '') === '';
  const config: Config = {
    queueStore: e.REDIS_URL === undefined ? 'postgres' : 'redis',
    redisUrl: e.REDIS_URL,
    redisCluster: e.REDIS_CLUSTER,
    // Unset: the embedded server, whose URL follows from its data directory.
    databaseUrl: databaseEmbedded ? embeddedDatabaseUrl(dataDir) : e.DATABASE_URL,
    databaseEmbedded,
    schema: e.CAMS_SCHEMA,
    dataDir,
    accessKeyId: e.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret:
      e.ALIBABA_CLOUD_ACCESS_KEY_SECRET === undefined
        ? undefined
        : new Secret(e.ALIBABA_CLOUD_ACCESS_KEY_SECRET),
    camsRegion: e.CAMS_REGION,
    camsEndpoint: e.CAMS_ENDPOINT ?? `cams.${e.CAMS_REGION}.aliyuncs.com`,
    camsProtocol: e.CAMS_PROTOCOL,
    camsRateLimit: e.CAMS_RATE_LIMIT,
    camsRateLimitGiven: (env.CAMS_RATE_LIMIT ?? '') !== '' || overrides.camsRateLimit !== undefined,
    camsAccount: e.CAMS_ACCOUNT,
    camsConnectTimeoutMs: e.CAMS_CONNECT_TIMEOUT_MS,
    camsReadTimeoutMs: e.CAMS_READ_TIMEOUT_MS,
    queueName: e.CAMS_QUEUE,
    queueHighWater: e.CAMS_QUEUE_HIGH_WATER,
    attempts: e.CAMS_ATTEMPTS,
    shutdownGraceMs: e.CAMS_SHUTDOWN_GRACE,
    redisReadyTimeoutMs: e.REDIS_READY_TIMEOUT_MS,
    clockOffsetMs: e.CAMS_CLOCK_OFFSET_MS,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    dashboardToken: e.DASHBOARD_TOKEN === undefined ? undefined : new Secret(e.DASHBOARD_TOKEN),
    dashboardUrl: e.DASHBOARD_URL,
    metricsSpaceLabels: e.METRICS_SPACE_LABELS,
    credentialSources: Object.freeze({
      securityToken:
        e.ALIBABA_CLOUD_SECURITY_TOKEN === undefined ? undefined : new Secret(e.ALIBABA_CLOUD_SECURITY_TOKEN),
      profile: profile ?? e.ALIBABA_CLOUD_PROFILE,
      profileFromFlag: profile !== undefined,
      home: e.HOME,
      credentialsFile: e.ALIBABA_CLOUD_CREDENTIALS_FILE,
      roleArn: e.ALIBABA_CLOUD_ROLE_ARN,
      oidcProviderArn: e.ALIBABA_CLOUD_OIDC_PROVIDER_ARN,
      oidcTokenFile: e.ALIBABA_CLOUD_OIDC_TOKEN_FILE,
      roleSessionName: e.ALIBABA_CLOUD_ROLE_SESSION_NAME,
      stsRegion: e.ALIBABA_CLOUD_STS_REGION,
      ecsRoleName: e.ALIBABA_CLOUD_ECS_METADATA,
      ecsMetadataDisabled: e.ALIBABA_CLOUD_ECS_METADATA_DISABLED?.toLowerCase() === 'true',
      cliProfileDisabled: e.ALIBABA_CLOUD_CLI_PROFILE_DISABLED?.toLowerCase() === 'true',
      credentialsUri: e.ALIBABA_CLOUD_CREDENTIALS_URI,
    }),
    ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
  };
  return Object.freeze(config);
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: Secret;
  /** Present for temporary (STS) credentials. */
  readonly securityToken?: Secret | undefined;
}

/**
 * The AccessKey pair from the environment, undefined when neither half is set. Half a pair is a
 * mistake worth naming: one clear line naming the missing variable.
 */
export function environmentCredentials(config: Config): Credentials | undefined {
  if (config.accessKeyId === undefined && config.accessKeySecret === undefined) return undefined;
  if (!config.accessKeyId) {
    throw new AppError(
      'CREDENTIALS_MISSING',
      'ALIBABA_CLOUD_ACCESS_KEY_ID is not set: export the AccessKey id that belongs to ALIBABA_CLOUD_ACCESS_KEY_SECRET',
    );
  }
  if (!config.accessKeySecret) {
    throw new AppError(
      'CREDENTIALS_MISSING',
      'ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set: export the AccessKey secret that belongs to ALIBABA_CLOUD_ACCESS_KEY_ID',
    );
  }
  return {
    accessKeyId: config.accessKeyId,
    accessKeySecret: config.accessKeySecret,
    securityToken: config.credentialSources.securityToken,
  };
}
