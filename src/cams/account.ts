/**
 * The account whose quota the fleet's rate controller keeps: every queue, worker and `lookup` of one
 * Alibaba Cloud account shares one controller, so they share the account's calls per second.
 *
 * `CAMS_ACCOUNT` names it when set (the account id, or any name every process of the account uses).
 * Otherwise a long-term AccessKey pair names it by a hash of its AccessKeyId (never the id itself, which
 * would then sit in Redis key names). Temporary credentials (STS, RAM role, OIDC, ECS role) change
 * their AccessKeyId, so they cannot name it: `CAMS_ACCOUNT` is required with them.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { requireCredentialSource } from './credentials.js';

/** The account's name as used in Redis key names: `CAMS_ACCOUNT`, or `ak-<hash of the AccessKeyId>`. */
export async function resolveAccount(config: Config): Promise<string> {
  if (config.camsAccount !== undefined) return config.camsAccount;
  const credentials = await (await requireCredentialSource(config)).get();
  if (credentials.securityToken === undefined) return accessKeyAccount(credentials.accessKeyId);
  throw new AppError(
    'CONFIG_INVALID',
    `CAMS_ACCOUNT is not set, and the credentials found (${credentials.provider}) are temporary, so their ` +
      'AccessKeyId changes and cannot name the account whose quota the workers share: set CAMS_ACCOUNT to ' +
      'the Alibaba Cloud account id (or any one name), the same for every process of that account',
  );
}

/** The account name of a long-term AccessKeyId: a hash, so the id never appears in Redis. */
export function accessKeyAccount(accessKeyId: string): string {
  return (
    'ak-' +
    createHash('sha256').update('cams-enrich account\u0000').update(accessKeyId).digest('hex').slice(0, 20)
  );
}

/**
 * The account this configuration names without asking any credential provider: `CAMS_ACCOUNT`, or the
 * hash of the environment's long-term AccessKeyId; undefined otherwise. For commands that only read
 * (`status`, the dashboard) when no worker has recorded the queue's account yet.
 */
export function configuredAccount(config: Config): string | undefined {
  if (config.camsAccount !== undefined) return config.camsAccount;
  if (config.accessKeyId && config.credentialSources.securityToken === undefined)
    return accessKeyAccount(config.accessKeyId);
  return undefined;
}
