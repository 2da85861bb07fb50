/**
 * ACS3-HMAC-SHA256, the request signature of Alibaba Cloud's V3 OpenAPI, built exactly as
 * `@alicloud/openapi-util` `getAuthorization` builds it, so the simulator can check requests from the
 * official SDKs and tests can build valid (or deliberately broken) requests by hand.
 *
 *   CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n
 *                      SignedHeaders \n HashedPayload
 *   StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
 *   Signature        = hex(hmac-sha256(secret, StringToSign))
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

/** Headers as Node gives them (`req.headersDistinct` or `req.headers`); names in any case. */
export type RequestHeaders = Record<string, string | readonly string[] | undefined>;

export interface SignableRequest {
  method: string;
  /** Path without the query, e.g. `/`. */
  pathname: string;
  /** Decoded query parameters. */
  query: Record<string, string>;
  headers: RequestHeaders;
}

/** RFC 3986 encoding as the SDK does it (`encodeURIComponent` plus `!'()*`). */
export function acsEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/!/g, '%21')
    .replace(/'/g, '%27')
    .replace(/\(/g, '%28')
    .replace(/\)/g, '%29')
    .replace(/\*/g, '%2A');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The SDK's canonical URI: only the first `+`, `*` and `%7E` are rewritten, as in openapi-util. */
export function canonicalUri(pathname: string): string {
  return (pathname || '').replace('+', '%20').replace('*', '%2A').replace('%7E', '~');
}

/** Sorted `key=encodedValue` pairs; keys are used as they are, values encoded. */
export function canonicalQueryString(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((key) => `${key}=${acsEncode(query[key] ?? '')}`)
    .join('&');
}

/** Header names the SDK signs: `host`, `content-type` and every `x-acs-*`, lower-cased and sorted. */
export function signableHeaderNames(headers: RequestHeaders): string[] {
  const names = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined) continue;
    if (lower.startsWith('x-acs-') || lower === 'host' || lower === 'content-type') names.add(lower);
  }
  return [...names].sort();
}

function headerValues(headers: RequestHeaders, lowerName: string): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== lowerName || value === undefined) continue;
    if (typeof value === 'string') values.push(value.trim());
    else for (const v of value) values.push(v.trim());
  }
  return values;
}

/** `name:value\n` per signed header; repeated headers sorted and joined with `,`. */
export function canonicalHeaders(headers: RequestHeaders, signedHeaders: readonly string[]): string {
  return signedHeaders.map((name) => `${name}:${headerValues(headers, name).sort().join(',')}\n`).join('');
}

export function canonicalRequest(
  request: SignableRequest,
  signedHeaders: readonly string[],
  hashedPayload: string,
): string {
  return [
    request.method.toUpperCase(),
    canonicalUri(request.pathname),
    canonicalQueryString(request.query),
    canonicalHeaders(request.headers, signedHeaders),
    signedHeaders.join(';'),
    hashedPayload,
  ].join('\n');
}

export function stringToSign(canonical: string): string {
  return `${ACS3_ALGORITHM}\n${sha256Hex(canonical)}`;
}

export function signature(secret: string, toSign: string): string {
  return createHmac('sha256', secret).update(toSign).digest('hex');
}

/** The `Authorization` header value the SDK would send for this request. */
export function authorizationHeader(
  request: SignableRequest,
  hashedPayload: string,
  accessKeyId: string,
  accessKeySecret: string,
): string {
  const signed = signableHeaderNames(request.headers);
  const sig = signature(accessKeySecret, stringToSign(canonicalRequest(request, signed, hashedPayload)));
  return `${ACS3_ALGORITHM} Credential=${accessKeyId},SignedHeaders=${signed.join(';')},Signature=${sig}`;
}

/** The SDK's `x-acs-date` format: `2024-11-18T08:15:00Z`. */
export function acsTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ParsedAuthorization {
  algorithm: string;
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  const m = /^(\S+) Credential=([^,\s]*),SignedHeaders=([^,\s]*),Signature=([0-9a-fA-F]*)$/.exec(
    value.trim(),
  );
  if (!m) return undefined;
  return {
    algorithm: m[1] ?? '',
    accessKeyId: m[2] ?? '',
    signedHeaders: (m[3] ?? '').split(';').filter((h) => h !== ''),
    signature: (m[4] ?? '').toLowerCase(),
  };
}

/** Why a request was refused, each with the Alibaba Cloud error code it is answered with. */
export type Acs3FailureReason =
  | 'IncompleteSignature'
  | 'InvalidAccessKeyId.NotFound'
  | 'MissingTimestamp'
  | 'InvalidTimeStamp.Format'
  | 'InvalidTimeStamp.Expired'
  | 'MissingSignatureNonce'
  | 'SignatureNonceUsed'
  | 'InvalidContentSha256'
  | 'SignatureDoesNotMatch';

export type Acs3Verification =
  | { ok: true; accessKeyId: string; nonce: string; dateMs: number }
  | { ok: false; reason: Acs3FailureReason; message: string };

export interface VerifyOptions {
  /** The secret of a known AccessKey id, else undefined. */
  lookupSecret: (accessKeyId: string) => string | undefined;
  /** Milliseconds since the epoch. */
  now: number;
  /** Allowed |now - x-acs-date|. */
  maxClockSkewMs: number;
  /** True when this AccessKey already used this nonce within the skew window. */
  nonceUsed?: (accessKeyId: string, nonce: string) => boolean;
}

/** Headers that must be present and signed on every request. */
const REQUIRED_SIGNED = [
  'host',
  'x-acs-action',
  'x-acs-version',
  'x-acs-date',
  'x-acs-signature-nonce',
  'x-acs-content-sha256',
];

function fail(reason: Acs3FailureReason, message: string): Acs3Verification {
  return { ok: false, reason, message };
}

/**
 * Checks one request as the CAMS gateway would: Authorization shape, AccessKey id, timestamp, payload
 * hash against the body bytes, signature, nonce. Pure: recording the nonce is the caller's job.
 */
export function verifyAcs3Request(
  request: SignableRequest,
  body: Uint8Array,
  options: VerifyOptions,
): Acs3Verification {
  const authValue = headerValues(request.headers, 'authorization')[0];
  if (!authValue) return fail('IncompleteSignature', 'The Authorization header is missing.');
  const auth = parseAuthorization(authValue);
  if (!auth) return fail('IncompleteSignature', 'The Authorization header does not follow the ACS3 format.');
  if (auth.algorithm !== ACS3_ALGORITHM) {
    return fail('IncompleteSignature', `The signature algorithm ${auth.algorithm} is not supported.`);
  }
  const secret = options.lookupSecret(auth.accessKeyId);
  if (secret === undefined) return fail('InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

  const date = headerValues(request.headers, 'x-acs-date')[0];
  if (!date) return fail('MissingTimestamp', 'x-acs-date is mandatory for this action.');
  const dateMs = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(date) ? Date.parse(date) : NaN;
  if (Number.isNaN(dateMs)) {
    return fail('InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
  }
  if (Math.abs(options.now - dateMs) > options.maxClockSkewMs) {
    return fail('InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
  }
  const nonce = headerValues(request.headers, 'x-acs-signature-nonce')[0];
  if (!nonce) return fail('MissingSignatureNonce', 'x-acs-signature-nonce is mandatory for this action.');

  const signed = [...auth.signedHeaders];
  const sorted = [...signed].sort();
  const acsHeaders = signableHeaderNames(request.headers).filter((h) => h.startsWith('x-acs-'));
  const missing = [...new Set([...REQUIRED_SIGNED, ...acsHeaders])].filter((h) => !signed.includes(h));
  if (signed.some((h, i) => h !== sorted[i] || h !== h.toLowerCase())) {
    return fail('IncompleteSignature', 'SignedHeaders must be lower-case and sorted.');
  }
  if (missing.length > 0)
    return fail('IncompleteSignature', `These headers must be signed: ${missing.join(', ')}.`);

  const claimedHash = headerValues(request.headers, 'x-acs-content-sha256')[0] ?? '';
  if (claimedHash.toLowerCase() !== sha256Hex(body)) {
    return fail(
      'InvalidContentSha256',
      'x-acs-content-sha256 does not match the sha256 of the request body.',
    );
  }

  const toSign = stringToSign(canonicalRequest(request, signed, claimedHash));
  const expected = Buffer.from(signature(secret, toSign), 'hex');
  const given = Buffer.from(auth.signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail(
      'SignatureDoesNotMatch',
      `The request signature does not conform to Aliyun standards. server string to sign is:${toSign}`,
    );
  }
  if (options.nonceUsed?.(auth.accessKeyId, nonce)) {
    return fail('SignatureNonceUsed', 'Specified signature nonce was used already.');
  }
  return { ok: true, accessKeyId: auth.accessKeyId, nonce, dateMs };
}

/**
 * Nonces seen per AccessKey. A nonce is kept only while a request carrying its `x-acs-date` could still
 * pass the timestamp check (date + skew), and never more than `maxEntries` (oldest dropped first),
 * so memory stays bounded whatever the request rate.
 */
export class NonceCache {
  readonly #skewMs: number;
  readonly #maxEntries: number;
  readonly #seen = new Map<string, number>();

  constructor(maxClockSkewMs: number, maxEntries = 1_000_000) {
    this.#skewMs = maxClockSkewMs;
    this.#maxEntries = maxEntries;
  }

  has(accessKeyId: string, nonce: string, now: number): boolean {
    this.#prune(now);
    return this.#seen.has(`${accessKeyId}\u0000${nonce}`);
  }

  add(accessKeyId: string, nonce: string, dateMs: number, now: number): void {
    this.#prune(now);
    this.#seen.set(`${accessKeyId}\u0000${nonce}`, dateMs + this.#skewMs);
    while (this.#seen.size > this.#maxEntries) {
      const oldest = this.#seen.keys().next();
      if (oldest.done) break;
      this.#seen.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    // Entries arrive in roughly expiry order: drop from the front until a live one.
    for (const [key, expires] of this.#seen) {
      if (expires > now) break;
      this.#seen.delete(key);
    }
  }
}
