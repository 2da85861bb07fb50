/**
 * The quota a process calls CAMS under is the fleet's, stored with the account's rate controller: the
 * first worker stores its own (`CAMS_RATE_LIMIT`, `--rate`, else 10); a process given another one
 * stops with exit 2 naming both, unless it is a worker started with `--set-quota`, which makes its
 * quota the fleet's. A process given no quota at all runs under the stored one. A `lookup`
 * (`store: false`) compares but never stores: one call does not decide the fleet's quota.
 */
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { claimQuota, readLimiterState } from '../queue/rate-controller.js';
import type { QuotaClaim, RateStateStore } from '../queue/rate-controller.js';

export async function settleQuota(
  state: RateStateStore,
  account: string,
  config: Config,
  log: Logger,
  options: { setQuota?: boolean; store?: boolean } = {},
): Promise<number> {
  const mine = config.camsRateLimit;
  const claim =
    options.store === false
      ? await readLimiterState(state, mine).then((s): QuotaClaim => ({
          outcome: !s.quotaStored ? 'stored' : s.quota === mine ? 'same' : 'different',
          quota: s.quota,
          previous: s.quotaStored ? s.quota : null,
        }))
      : await claimQuota(state, mine, { replace: options.setQuota === true });
  if (claim.outcome === 'replaced')
    log.warn({ account, quota: claim.quota, previous: claim.previous }, "changed the fleet's quota");
  if (claim.outcome !== 'different') return claim.quota;
  if (!config.camsRateLimitGiven) return claim.quota;
  throw new AppError(
    'CONFIG_INVALID',
    `the fleet's quota for account ${account} is ${claim.quota}/s (stored in ${state.kind === 'redis' ? 'Redis' : 'PostgreSQL'} by the first worker), ` +
      `but this process was given ${mine}/s (CAMS_RATE_LIMIT or --rate): use ${claim.quota}, or start a ` +
      `worker with --rate ${mine} --set-quota to make ${mine}/s the quota of every process of the account`,
  );
}
