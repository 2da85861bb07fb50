/**
 * The one error class for a failed QueryPhoneBusinessProfile call, whether CAMS answered with an
 * error `Code` or the call never got an answer. Callers branch on `classification` and `scope`,
 * which come from `Code` (never from message text) through the tables below.
 *
 * A pattern ending in `*` matches every code that starts with what precedes it.
 */
import { maskPhonesIn } from '../mask.js';

export type CamsErrorClassification = 'throttled' | 'permanent' | 'transient';

/**
 * For permanent errors: 'account' = every later call with this AccessKey/account will fail too (pause
 * the fleet), 'clock' = every later call from this machine will fail too, since its clock is off (this
 * worker stops, the fleet goes on), 'number' = only this number/request. null for throttled/transient.
 */
export type CamsErrorScope = 'account' | 'clock' | 'number' | null;

/** Flow control: back off the whole queue and try again later. HTTP 429 without a known code counts too. */
export const THROTTLED_CODES: readonly string[] = Object.freeze(['System.LimitControl', 'Throttling*']);

/**
 * A request timestamp more than 15 minutes off CAMS's clock: this machine's clock is wrong. Every call
 * from it fails the same way, and calls from the other machines do not.
 */
export const CLOCK_CODES: readonly string[] = Object.freeze(['InvalidTimeStamp.Expired']);

/**
 * Failures of the account or its AccessKey: every later call fails the same way, so the fleet pauses
 * until someone fixes the subscription, the RAM policy or the key pair (or the signer: a timestamp in
 * the wrong format).
 */
export const ACCOUNT_CODES: readonly string[] = Object.freeze([
  'Product.Unsubscript',
  'Ram.PermissionDeny',
  'Forbidden*',
  'InvalidAccessKeyId*',
  'InvalidSecurityToken*',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidTimeStamp*',
]);

/**
 * Failures of this one request: the number or the CustSpaceId is wrong, or does not belong to the
 * account (`Unknown.ResourceOwnerId`, "The resource does not belong to the current user"), or the
 * answer held no profile (`Response.NoData`, a local code). Retrying the same request cannot help.
 */
export const NUMBER_CODES: readonly string[] = Object.freeze([
  'Unknown.ResourceOwnerId',
  'InvalidParameter*',
  'Missing*',
  'InvalidPhoneNumber*',
  'InvalidCustSpaceId*',
  'Response.NoData',
]);

/**
 * Worth retrying as they are: server faults, a reused signature nonce (the retry signs with a new
 * one), and every local transport failure. HTTP 5xx and any code not listed anywhere are transient too.
 */
export const TRANSIENT_CODES: readonly string[] = Object.freeze([
  'ServiceUnavailable*',
  'InternalError*',
  'SignatureNonceUsed',
  'Transport.*',
  'Response.Malformed',
  'Credentials.Unavailable',
]);

/** Local codes for calls that got no usable answer (not sent by CAMS). */
export const LOCAL_CODES = Object.freeze({
  timeout: 'Transport.Timeout',
  connectionReset: 'Transport.ConnectionReset',
  connectionRefused: 'Transport.ConnectionRefused',
  /** The endpoint's name did not resolve (ENOTFOUND, EAI_AGAIN). */
  dnsFailure: 'Transport.DnsFailure',
  /** The TLS handshake failed (certificate, protocol). */
  tlsFailure: 'Transport.TlsFailure',
  /** No route to the endpoint's host or network (EHOSTUNREACH, ENETUNREACH). */
  hostUnreachable: 'Transport.HostUnreachable',
  transportUnknown: 'Transport.Unknown',
  /** The credential chain had nothing to sign with (an STS refresh failed, a profile went away). */
  credentialsUnavailable: 'Credentials.Unavailable',
  /** HTTP 200 with `Code: OK` but no `Data` object. */
  noData: 'Response.NoData',
  /** A body that is not the JSON object the API documents. */
  malformed: 'Response.Malformed',
  /** HTTP 200 with `Success: false` and no error `Code`. */
  unsuccessful: 'Response.Unsuccessful',
} as const);

/**
 * Failures of the connection itself, which every call to the endpoint meets alike: the fleet pauses
 * instead of spending each number's attempts on them.
 */
export const UNREACHABLE_CODES: readonly string[] = Object.freeze([
  LOCAL_CODES.connectionRefused,
  LOCAL_CODES.dnsFailure,
  LOCAL_CODES.tlsFailure,
  LOCAL_CODES.hostUnreachable,
]);

function matches(patterns: readonly string[], code: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? code.startsWith(p.slice(0, -1)) : code === p));
}

export function classifyCamsError(
  code: string,
  httpStatus: number | undefined,
): { classification: CamsErrorClassification; scope: CamsErrorScope } {
  if (matches(THROTTLED_CODES, code)) return { classification: 'throttled', scope: null };
  if (matches(CLOCK_CODES, code)) return { classification: 'permanent', scope: 'clock' };
  if (matches(ACCOUNT_CODES, code)) return { classification: 'permanent', scope: 'account' };
  if (matches(NUMBER_CODES, code)) return { classification: 'permanent', scope: 'number' };
  if (matches(TRANSIENT_CODES, code)) return { classification: 'transient', scope: null };
  if (httpStatus === 429) return { classification: 'throttled', scope: null };
  // HTTP 5xx, and codes this table does not know: retry, a bounded number of times.
  return { classification: 'transient', scope: null };
}

export interface CamsErrorFields {
  /** Upstream `Code`, or a local code (`Transport.*`, `Response.*`, `HTTP.<status>`). */
  code: string;
  /** Upstream `Message`, or a short description of the local failure. */
  upstreamMessage: string;
  requestId?: string | undefined;
  httpStatus?: number | undefined;
  /**
   * The number the call was for (digits only). Masked wherever the upstream message echoes it;
   * not kept on the error.
   */
  phoneNumber?: string | undefined;
  /** How long CAMS asked the caller to wait before retrying, in ms, when it said so. */
  retryAfterMs?: number | undefined;
}

/** One line, bounded length. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

export class CamsError extends Error {
  override readonly name = 'CamsError';
  readonly code: string;
  readonly upstreamMessage: string;
  readonly requestId: string | undefined;
  readonly httpStatus: number | undefined;
  readonly classification: CamsErrorClassification;
  readonly scope: CamsErrorScope;
  readonly retryAfterMs: number | undefined;

  constructor(fields: CamsErrorFields) {
    // The message may echo the number; the RequestId is an opaque id a user quotes to support and
    // stays whole.
    const phones = fields.phoneNumber === undefined ? [] : [fields.phoneNumber];
    const upstreamMessage = oneLine(maskPhonesIn(fields.upstreamMessage, phones));
    const where: string[] = [];
    if (fields.httpStatus !== undefined) where.push(`HTTP ${fields.httpStatus}`);
    if (fields.requestId) where.push(`RequestId ${oneLine(fields.requestId)}`);
    const place = where.length > 0 ? ` (${where.join(', ')})` : '';
    super(`CAMS ${oneLine(fields.code)}${place}: ${upstreamMessage || 'no message'}`);
    const { classification, scope } = classifyCamsError(fields.code, fields.httpStatus);
    this.code = fields.code;
    this.upstreamMessage = upstreamMessage;
    this.requestId = fields.requestId;
    this.httpStatus = fields.httpStatus;
    this.classification = classification;
    this.scope = scope;
    this.retryAfterMs = fields.retryAfterMs;
  }

  /** True when the call never reached CAMS because the endpoint cannot be reached at all. */
  get unreachable(): boolean {
    return UNREACHABLE_CODES.includes(this.code);
  }
}

export function isCamsError(err: unknown): err is CamsError {
  return err instanceof CamsError;
}
