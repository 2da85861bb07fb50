/**
 * Alibaba Cloud credentials, resolved the way the Alibaba Cloud SDKs and CLI resolve them, through
 * `@alicloud/credentials`' providers in its default chain's order:
 *
 * 1. the environment: `ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET`, with `ALIBABA_CLOUD_SECURITY_TOKEN` for STS;
 * 2. RRSA/OIDC: `ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE`;
 * 3. the Alibaba Cloud CLI's `~/.aliyun/config.json` (the profile named, else its current one);
 * 4. the ini file `~/.alibabacloud/credentials` (`ALIBABA_CLOUD_CREDENTIALS_FILE`; profile named, else `default`);
 * 5. the ECS instance's RAM role (unless `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`);
 * 6. `ALIBABA_CLOUD_CREDENTIALS_URI`.
 *
 * `--profile NAME` on the command line means that profile and nothing else (3 and 4 only).
 * Every setting comes from `Config` (so `HOME` is whatever environment the config was read from);
 * the SDK's own default chain reads `process.env` and `os.homedir()` itself, so it is not used as is.
 *
 * The source is asked once per CAMS call; temporary credentials (RRSA, ECS role, URI, RAM role
 * profiles) are refreshed by their provider before they expire. A chain that found nothing is thrown
 * away and built anew on the next call, so a fixed environment or file is picked up without a restart.
 * Messages never carry what a provider said: some echo the file they read, secret included.
 */
import { join } from 'node:path';
import {
  CLIProfileCredentialsProvider,
  ECSRAMRoleCredentialsProvider,
  OIDCRoleArnCredentialsProvider,
  ProfileCredentialsProvider,
  StaticAKCredentialsProvider,
  StaticSTSCredentialsProvider,
  URICredentialsProvider,
} from '@alicloud/credentials';
import { loadIni } from '@alicloud/credentials/dist/src/util/utils.js';
import { environmentCredentials, Secret } from '../config.js';
import type { Config, Credentials } from '../config.js';
import { AppError } from '../errors.js';

/** Credentials for one call. */
export interface ResolvedCredentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: Secret;
  /** Set for temporary (STS) credentials; sent as `x-acs-security-token`. */
  readonly securityToken: Secret | undefined;
  /** Which provider gave them, e.g. `env`, `cli_profile/static_ak`, `profile/static_ak`. */
  readonly provider: string;
}

/** Where a CAMS client gets its credentials, once per call. */
export interface CredentialSource {
  /** Rejects with `CredentialsUnavailableError` when no provider has any. */
  get(): Promise<ResolvedCredentials>;
}

/** No provider of the chain gave credentials; `message` is one line naming the ways to provide them. */
export class CredentialsUnavailableError extends Error {
  override readonly name = 'CredentialsUnavailableError';
}

/** The shape of a provider of `@alicloud/credentials`. */
interface Provider {
  getCredentials(): Promise<{ accessKeyId: string; accessKeySecret: string; securityToken?: string }>;
  getProviderName(): string;
}

/** A fixed pair (and token), e.g. for the simulator. */
export function staticCredentials(credentials: Credentials): CredentialSource {
  const resolved: ResolvedCredentials = {
    accessKeyId: credentials.accessKeyId,
    accessKeySecret: credentials.accessKeySecret,
    securityToken: credentials.securityToken,
    provider: credentials.securityToken ? 'static_sts' : 'static_ak',
  };
  return { get: () => Promise.resolve(resolved) };
}

/** The ini file read through the SDK's own parser and profile types, from a path `Config` names. */
class IniFileProvider implements Provider {
  #inner: Provider | undefined;
  constructor(
    private readonly file: string,
    private readonly profile: string,
  ) {}
  async getCredentials() {
    if (!this.#inner) {
      const ini: unknown = await loadIni(this.file);
      const reader = ProfileCredentialsProvider.builder().withProfileName(this.profile).build();
      this.#inner = reader.getCredentialsProvider(ini);
    }
    return this.#inner.getCredentials();
  }
  getProviderName() {
    return `profile/${this.#inner?.getProviderName() ?? 'unresolved'}`;
  }
}

function cliProfileProvider(home: string, profile: string | undefined): Provider {
  const builder = CLIProfileCredentialsProvider.builder();
  if (profile !== undefined) builder.withProfileName(profile);
  const provider = builder.build();
  // The provider takes its home from os.homedir(); the field is there to be set ("used for mock").
  (provider as unknown as { homedir: string }).homedir = home;
  return provider;
}

/** Builds a provider, or leaves it out when the SDK refuses to (a source switched off or incomplete). */
function optional(build: () => Provider): Provider[] {
  try {
    return [build()];
  } catch {
    return [];
  }
}

function providers(config: Config): Provider[] {
  const s = config.credentialSources;
  const home = s.home;
  const iniFile =
    s.credentialsFile ?? (home === undefined ? undefined : join(home, '.alibabacloud', 'credentials'));
  const profiles: Provider[] = [
    ...(home !== undefined && !s.cliProfileDisabled ? [cliProfileProvider(home, s.profile)] : []),
    ...(iniFile !== undefined ? [new IniFileProvider(iniFile, s.profile ?? 'default')] : []),
  ];
  if (s.profileFromFlag) return profiles;

  const env = environmentCredentials(config);
  const list: Provider[] = [];
  if (env) {
    list.push(
      env.securityToken
        ? StaticSTSCredentialsProvider.builder()
            .withAccessKeyId(env.accessKeyId)
            .withAccessKeySecret(env.accessKeySecret.reveal())
            .withSecurityToken(env.securityToken.reveal())
            .build()
        : StaticAKCredentialsProvider.builder()
            .withAccessKeyId(env.accessKeyId)
            .withAccessKeySecret(env.accessKeySecret.reveal())
            .build(),
    );
  }
  if (s.roleArn && s.oidcProviderArn && s.oidcTokenFile) {
    const { roleArn, oidcProviderArn, oidcTokenFile } = s;
    list.push(
      ...optional(() => {
        const b = OIDCRoleArnCredentialsProvider.builder()
          .withRoleArn(roleArn)
          .withOIDCProviderArn(oidcProviderArn)
          .withOIDCTokenFilePath(oidcTokenFile);
        if (s.roleSessionName) b.withRoleSessionName(s.roleSessionName);
        if (s.stsRegion) b.withStsRegionId(s.stsRegion);
        return b.build();
      }),
    );
  }
  list.push(...profiles);
  if (!s.ecsMetadataDisabled) {
    list.push(
      ...optional(() => {
        const b = ECSRAMRoleCredentialsProvider.builder();
        if (s.ecsRoleName) b.withRoleName(s.ecsRoleName);
        return b.build();
      }),
    );
  }
  if (s.credentialsUri) {
    const uri = s.credentialsUri;
    list.push(...optional(() => URICredentialsProvider.builder().withCredentialsURI(uri).build()));
  }
  return list;
}

/** One line naming every way to provide credentials. */
export function missingCredentialsMessage(config: Config): string {
  const s = config.credentialSources;
  const ways =
    'export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS), ' +
    'name a profile of ~/.aliyun/config.json or ~/.alibabacloud/credentials with --profile or ALIBABA_CLOUD_PROFILE, ' +
    'set ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE (RRSA), ' +
    'or run on ECS with a RAM role';
  if (s.profileFromFlag) {
    const where = [
      s.home !== undefined && !s.cliProfileDisabled ? join(s.home, '.aliyun', 'config.json') : undefined,
      s.credentialsFile ?? (s.home === undefined ? undefined : join(s.home, '.alibabacloud', 'credentials')),
    ].filter((w) => w !== undefined);
    return `no credentials for profile '${s.profile ?? ''}' in ${where.join(' or ') || 'any file (HOME is not set)'}: ${ways}`;
  }
  return `no Alibaba Cloud credentials found: ${ways}`;
}

/** One pass over the providers, keeping the first that answers (it then refreshes its own). */
class Chain {
  #winner: Provider | undefined;
  constructor(private readonly list: Provider[]) {}
  async get(): Promise<ResolvedCredentials> {
    const candidates = this.#winner ? [this.#winner] : this.list;
    for (const provider of candidates) {
      let got;
      try {
        got = await provider.getCredentials();
      } catch {
        continue;
      }
      if (!got.accessKeyId || !got.accessKeySecret) continue;
      this.#winner = provider;
      return {
        accessKeyId: got.accessKeyId,
        accessKeySecret: new Secret(got.accessKeySecret),
        securityToken: got.securityToken ? new Secret(got.securityToken) : undefined,
        provider: provider.getProviderName(),
      };
    }
    throw new Error('no provider answered');
  }
}

/** The chain over `config`'s sources. Throws `AppError('CREDENTIALS_MISSING')` for half an AccessKey pair. */
export function credentialChain(config: Config): CredentialSource {
  environmentCredentials(config);
  let chain: Chain | undefined;
  return {
    async get() {
      chain ??= new Chain(providers(config));
      try {
        return await chain.get();
      } catch {
        // A chain that failed keeps failing (the SDK's providers cache what they read): start over.
        chain = undefined;
        throw new CredentialsUnavailableError(missingCredentialsMessage(config));
      }
    },
  };
}

/**
 * The chain, checked once: resolves when some provider gives credentials now, else throws
 * `AppError('CREDENTIALS_MISSING')` (exit 2) with one line naming the ways to provide them.
 */
export async function requireCredentialSource(config: Config): Promise<CredentialSource> {
  const source = credentialChain(config);
  try {
    await source.get();
  } catch (err) {
    if (err instanceof CredentialsUnavailableError) throw new AppError('CREDENTIALS_MISSING', err.message);
    throw err;
  }
  return source;
}
