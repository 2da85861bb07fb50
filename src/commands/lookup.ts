/**
 * `cams-enrich lookup <phone> --space <CustSpaceId> [--json]`: one QueryPhoneBusinessProfile call,
 * printed, through the fleet's rate controller in Redis. Exit 0 with a profile, 1 when CAMS or the network failed, 2 for a bad number or no credentials.
 */
import { Command } from '@commander-js/extra-typings';
import type { FlagsOf } from '../cli-options.js';
import { PROFILE_HELP, spaceArg } from '../cli-options.js';
import { isCamsError } from '../cams/cams-error.js';
import type { CamsError } from '../cams/cams-error.js';
import { camsClientFromConfig } from '../cams/cams-client.js';
import type { BusinessProfile } from '../cams/profile.js';
import { AppError } from '../errors.js';
import { maskPhone } from '../mask.js';
import { normalisePhone } from '../phone.js';
import { checkSpace } from '../space.js';
import { resolveAccount } from '../cams/account.js';
import { openDatabase, openQueueStore } from '../connections.js';
import { createRateController } from '../queue/rate-controller.js';
import { Resources } from '../resources.js';
import { settleQuota } from './fleet-quota.js';
import { addCallCounts } from '../db/sql/add-call-counts.js';
import type { CommandContext, CommandLine, ExitCode } from './context.js';

export const lookupDefinition = () =>
  new Command('lookup')
    .description('one QueryPhoneBusinessProfile call, printed')
    .argument('<phone>', 'phone number, country code first (e.g. 8613800001234)')
    .requiredOption('--space <CustSpaceId>', 'customer space id', spaceArg)
    .option('--profile <NAME>', PROFILE_HELP)
    .option('--json', 'print JSON');
export type LookupFlags = FlagsOf<typeof lookupDefinition, 'space'>;

/** Digits only, country code first (`+86 138-0000-1234` → `8613800001234`); anything else is a usage error. */
function lookupPhone(raw: string): string {
  const result = normalisePhone(raw);
  if (!result.ok) {
    throw new AppError(
      'USAGE',
      `'${raw}' is not a phone number (${result.reason}): give it with the country code, e.g. 8613800001234 or +86 138 0000 1234`,
    );
  }
  return result.phone;
}

/**
 * Text from CAMS as it may go to a terminal: line breaks and tabs (with the blanks around them) become
 * one space, every other control character (C0, DEL, C1: the start of an escape sequence that could
 * clear the screen, move the cursor or set the window title) is dropped.
 */
export function forTerminal(text: string): string {
  return text.replace(/\s*[\t\n\v\f\r]\s*/g, ' ').replace(/\p{Cc}/gu, '');
}

/**
 * One JSON line. `JSON.stringify` escapes C0 control characters; DEL and the C1 range are escaped too,
 * so no raw control character reaches a terminal from `--json` either (the value read back is the same).
 */
function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function printProfile(
  ctx: CommandContext,
  custSpaceId: string,
  phoneNumber: string,
  p: BusinessProfile,
): void {
  const rows: [string, string][] = [
    ['custSpaceId', custSpaceId],
    ['phoneNumber', phoneNumber],
    ['vertical', p.vertical ?? ''],
    ['description', p.description ?? ''],
    ['email', p.email ?? ''],
    ['address', p.address ?? ''],
    ['profilePictureUrl', p.profilePictureUrl ?? ''],
    ['websites', p.websites.join(', ')],
    ['about', p.about ?? ''],
    ['requestId', p.requestId],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  for (const [key, value] of rows) {
    // A description may span lines; keep each field on its own line, and CAMS's text harmless.
    ctx.out(`${`${key}:`.padEnd(width)} ${forTerminal(value)}`);
  }
}

function printError(ctx: CommandContext, err: CamsError, json: boolean): void {
  const where = [
    err.httpStatus !== undefined ? `HTTP ${err.httpStatus}` : undefined,
    err.requestId ? `RequestId ${err.requestId}` : undefined,
  ]
    .filter((s) => s !== undefined)
    .join(', ');
  const kind = err.scope ? `${err.classification}, ${err.scope}` : err.classification;
  ctx.err(forTerminal(`error: ${err.code} (${kind}): ${err.upstreamMessage}${where ? ` [${where}]` : ''}`));
  if (json) {
    ctx.out(
      jsonLine({
        error: {
          code: err.code,
          classification: err.classification,
          scope: err.scope,
          message: err.upstreamMessage,
          requestId: err.requestId ?? null,
          httpStatus: err.httpStatus ?? null,
        },
      }),
    );
  }
}

/** How long a lookup waits for the ledger to count its request before going on without. */
const COUNT_TIMEOUT_MS = 3000;

/**
 * Counts the lookup's request in the ledger's usage figures (`lookups`, apart from the workers'
 * calls), when the ledger answers: a lookup works without PostgreSQL, so a ledger that is down or not
 * migrated is a debug line, not a failure.
 */
async function countLookup(ctx: CommandContext, custSpaceId: string): Promise<void> {
  const res = new Resources();
  const count = (async () => {
    const pool = await openDatabase(res, ctx.config, ctx.log, 1, { readOnly: true });
    await addCallCounts(pool, [
      {
        day: new Date().toISOString().slice(0, 10),
        custSpaceId,
        runId: 0,
        metric: 'lookups',
        n: 1,
      },
    ]);
  })();
  // Its failure after the timeout has nobody to tell.
  count.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${COUNT_TIMEOUT_MS} ms`)), COUNT_TIMEOUT_MS);
  });
  try {
    await Promise.race([count, timeout]);
  } catch (err) {
    ctx.log.debug({ err }, 'the lookup was not counted in the usage figures');
  } finally {
    clearTimeout(timer);
    await res.close().catch(() => undefined);
  }
}

export async function lookupCommand(
  phone: string,
  opts: LookupFlags,
  ctx: CommandContext,
): Promise<ExitCode> {
  const custSpaceId = checkSpace(opts.space);
  const phoneNumber = lookupPhone(phone);
  const cams = await camsClientFromConfig(ctx.config);
  const account = await resolveAccount(ctx.config);
  const log = ctx.log.child({ command: 'lookup', phone: maskPhone(phoneNumber) });
  const res = new Resources();
  let profile: BusinessProfile;
  try {
    // The call takes a slot from the fleet's rate controller like a worker's call, so a lookup during
    // a run never pushes the account over its quota; a throttle it meets adjusts the fleet's rate.
    const store = await openQueueStore(res, ctx.config, ctx.log, undefined, 'producer');
    const state = store.rateState(account);
    const gate = createRateController({
      state,
      quota: await settleQuota(state, account, ctx.config, ctx.log, { store: false }),
    });
    await gate.acquire(ctx.signal);
    try {
      profile = await cams.queryPhoneBusinessProfile({ custSpaceId, phoneNumber });
      await countLookup(ctx, custSpaceId);
    } catch (err) {
      if (isCamsError(err) && !err.unreachable) await countLookup(ctx, custSpaceId);
      if (isCamsError(err) && err.classification === 'throttled') await gate.throttled(err.retryAfterMs);
      throw err;
    }
  } catch (err) {
    if (!isCamsError(err)) throw err;
    log.debug(
      { code: err.code, classification: err.classification, requestId: err.requestId },
      'lookup failed',
    );
    printError(ctx, err, opts.json === true);
    return 1;
  } finally {
    await res.close();
  }
  log.debug({ requestId: profile.requestId }, 'lookup succeeded');
  if (opts.json) {
    const { vertical, description, email, address, profilePictureUrl, websites, about, requestId } = profile;
    ctx.out(
      jsonLine({
        custSpaceId,
        phoneNumber,
        vertical,
        description,
        email,
        address,
        profilePictureUrl,
        websites,
        about,
        requestId,
      }),
    );
  } else {
    printProfile(ctx, custSpaceId, phoneNumber, profile);
  }
  return 0;
}

export const commandLine: CommandLine = (host) =>
  lookupDefinition().action(async (phone, opts) =>
    host.exit(await lookupCommand(phone, opts, host.context({ profile: opts.profile }))),
  );
