/**
 * The CAMS client: one QueryPhoneBusinessProfile call through `@alicloud/openapi-client`
 * (RPC style, ACS3-HMAC-SHA256 signature, the SDK's default), every failure turned into a `CamsError`.
 *
 * The SDK does not retry here (`autoretry: false`): retries happen at queue level, where the
 * classification decides how. Credentials come from a source asked before each request and live only
 * inside the SDK client, which this module keeps in a closure; no error built here carries an SDK
 * error, a request or its headers.
 */
import OpenApiModule, { Config as OpenApiConfig, OpenApiRequest, Params } from '@alicloud/openapi-client';
import OpenApiUtilModule from '@alicloud/openapi-util';
import { doAction, Request as TeaRequest } from '@alicloud/tea-typescript';
import { RuntimeOptions } from '@alicloud/tea-util';
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { ClientRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Config, Credentials } from '../config.js';
import { CamsError, LOCAL_CODES } from './cams-error.js';
import { requireCredentialSource, staticCredentials } from './credentials.js';
import type { CredentialSource, ResolvedCredentials } from './credentials.js';
import { profileFromData } from './profile.js';
import type { BusinessProfile } from './profile.js';

// The SDK packages are CommonJS with `exports.default = Client` and `__esModule`. Node ESM (and tsc
// with NodeNext) makes a default import the whole `module.exports`, so the class sits one level down;
// bundlers and vitest honour `__esModule` and hand over the class itself. Accept both.
function cjsDefault<T>(mod: { default: T }): T {
  return (mod as { default?: T }).default ?? (mod as unknown as T);
}
const OpenApiClient = cjsDefault(OpenApiModule);
const OpenApiUtil = cjsDefault(OpenApiUtilModule);

export interface CamsClientOptions {
  /**
   * A fixed AccessKey pair (and STS token), or a source asked once per call (the credential chain,
   * which refreshes temporary credentials before they expire).
   */
  credentials: Credentials | CredentialSource;
  /** `host[:port]` of the CAMS endpoint, e.g. `cams.ap-southeast-1.aliyuncs.com`. */
  endpoint: string;
  /** `https` for Alibaba Cloud, `http` for a local simulator. */
  protocol: 'https' | 'http';
  /** Region id, e.g. `ap-southeast-1`. */
  regionId: string;
  /** Time allowed to open the connection (TCP, and TLS for https), in ms. */
  connectTimeoutMs: number;
  /**
   * Time allowed for the whole answer once the connection is open (at once on a reused one), in ms,
   * however slowly it comes: a hung server fails after this, always.
   */
  readTimeoutMs: number;
  /**
   * This machine's clock, in ms since the epoch: the request's timestamp (`x-acs-date`), which CAMS
   * refuses when it is more than 15 minutes off (`InvalidTimeStamp.Expired`). Default `Date.now`.
   */
  now?: () => number;
}

export interface QueryInput {
  /** The space ID of the user within the ISV account. */
  custSpaceId: string;
  /** Digits only, country code first, no `+` (e.g. `8613800001234`). */
  phoneNumber: string;
  /**
   * Gives up waiting for the answer (a worker forced to stop): the promise rejects with the signal's
   * reason at once. A request already sent may still reach CAMS and count against the quota.
   */
  signal?: AbortSignal | undefined;
}

export interface CamsClient {
  /** One call; resolves to the profile or rejects with a `CamsError`. */
  queryPhoneBusinessProfile(input: QueryInput): Promise<BusinessProfile>;
  /**
   * Readies the way for the first call without making one, so that call reaches CAMS as soon as a
   * warm one would (a cold first call is late by the SDK's first run and a new connection, tens of ms
   * on loopback and a TLS handshake on the internet, and late calls crowd the rate limit's window).
   * Best effort: never rejects.
   */
  warmUp?(): Promise<void>;
}

const API_VERSION = '2020-06-06';
const ACTION = 'QueryPhoneBusinessProfile';

/** Node's error codes for a connection the peer dropped or never accepted. */
const RESET_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const REFUSED_ERRNOS = new Set(['ECONNREFUSED']);
const TIMEOUT_ERRNOS = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const DNS_ERRNOS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const UNREACHABLE_ERRNOS = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/** OpenSSL and Node certificate and handshake errors. */
function isTlsErrno(errno: string): boolean {
  return (
    /^(ERR_TLS_|ERR_SSL_|CERT_|ERR_OSSL_)/.test(errno) ||
    [
      'EPROTO',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    ].includes(errno)
  );
}

/**
 * CAMS's hint of when to retry, in ms, from `x-acs-retry-after` or `retry-after` (seconds, or an HTTP
 * date). The SDK exposes response headers only on HTTP 200 answers, so a hint on an HTTP 4xx throttle
 * cannot be read.
 */
export function retryAfterMs(headers: unknown, now = Date.now()): number | undefined {
  if (!isRecord(headers)) return undefined;
  for (const name of ['x-acs-retry-after', 'retry-after']) {
    const value = headers[name];
    const text = typeof value === 'string' ? value.trim() : Array.isArray(value) ? String(value[0]) : '';
    if (text === '') continue;
    if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
    const date = Date.parse(text);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/** The call under way in this async context, told of each HTTP request made within it. */
interface CallWatch {
  request(request: ClientRequest): void;
}

const currentCall = new AsyncLocalStorage<CallWatch>();
let watchingRequests = false;

/**
 * Lets a call see the HTTP request the SDK makes for it (Node's `http.client.request.start` channel,
 * published in the async context of the call), the only way to its socket: the SDK keeps it inside.
 * Subscribed once per process, on the first client created.
 */
function watchRequests(): void {
  if (watchingRequests) return;
  watchingRequests = true;
  subscribe('http.client.request.start', (message) => {
    const { request } = message as { request: ClientRequest };
    currentCall.getStore()?.request(request);
  });
}

function readTimeoutError(options: CamsClientOptions): CamsError {
  return new CamsError({
    code: LOCAL_CODES.timeout,
    upstreamMessage: `no answer within the read timeout (${options.readTimeoutMs} ms)`,
  });
}

/**
 * Runs a call with each timeout doing what its name says. httpx (under the SDK) passes the connect
 * timeout to Node as the socket's idle timeout, which then also ends a call whose answer is merely
 * slower than that (named a connect timeout); and it keys its read timer on the socket without
 * clearing it when `@alicloud/tea-util` reads the body, so on a kept-alive socket the previous call's
 * stale timer can cancel the next call's. Here:
 * - the connect timeout bounds opening the connection (TCP, and TLS for https): the socket's idle
 *   timeout until it is connected, which fails the call as a connect timeout;
 * - the read timeout starts once the connection is open (at once on a reused one) and bounds the
 *   whole answer: its timer is this function's own, and ends the request when it fires. The socket's
 *   idle timeout is switched off for the rest of the call.
 * Should the request never be seen, the call as a whole still ends after both timeouts.
 */
function withTimeouts<T>(
  call: () => Promise<T>,
  options: CamsClientOptions,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let request: ClientRequest | undefined;
    let readTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(wholeTimer);
      clearTimeout(readTimer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = () => {
      if (settle()) reject(signal?.reason);
    };
    const timedOut = () => {
      if (!settle()) return;
      reject(readTimeoutError(options));
      // The SDK's call ends with it; its late outcome is ignored.
      request?.destroy();
    };
    const wholeTimer = setTimeout(timedOut, options.connectTimeoutMs + options.readTimeoutMs);
    const connected = (socket: Socket) => {
      if (settled) return;
      clearTimeout(wholeTimer);
      socket.setTimeout(0);
      readTimer = setTimeout(timedOut, options.readTimeoutMs);
    };
    const watch: CallWatch = {
      request(r) {
        // Only the API request: a credential provider may make requests of its own within the call.
        if (request !== undefined || r.getHeader('x-acs-action') !== ACTION) return;
        request = r;
        const onSocket = (socket: Socket) => {
          if (r.reusedSocket) return connected(socket);
          if (socket instanceof TLSSocket) socket.once('secureConnect', () => connected(socket));
          else if (socket.connecting) socket.once('connect', () => connected(socket));
          else connected(socket);
        };
        if (r.socket) onSocket(r.socket);
        else r.once('socket', onSocket);
      },
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    currentCall.run(watch, call).then(
      (value) => {
        if (settle()) resolve(value);
      },
      (err: unknown) => {
        if (settle()) reject(err instanceof CamsError ? err : errorFromSdk(err, options));
      },
    );
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Maps whatever the SDK threw to a `CamsError`, copying only known-safe fields. The SDK's own
 * messages are not reused: transport errors end with the request URL, which holds the phone number.
 */
function errorFromSdk(err: unknown, options: CamsClientOptions): CamsError {
  const e = isRecord(err) ? err : {};
  const name = str(e['name']);
  const errno = str(e['code']);
  const message = str(e['message']) ?? '';

  // httpx (under @alicloud/tea-typescript) names both its timeouts `RequestTimeoutError`:
  // "ReadTimeout(<ms>)..." when no answer came in time, "ConnectTimeout: ..." when the socket stayed idle.
  if (name === 'RequestTimeoutError' || (errno !== undefined && TIMEOUT_ERRNOS.has(errno))) {
    if (/ReadTimeout/.test(message)) return readTimeoutError(options);
    return new CamsError({
      code: LOCAL_CODES.timeout,
      upstreamMessage: `connection to ${options.endpoint} timed out (connect timeout ${options.connectTimeoutMs} ms)`,
    });
  }
  if (errno !== undefined && RESET_ERRNOS.has(errno)) {
    return new CamsError({
      code: LOCAL_CODES.connectionReset,
      upstreamMessage: `connection to ${options.endpoint} was reset (${errno})`,
    });
  }
  if (errno !== undefined && REFUSED_ERRNOS.has(errno)) {
    return new CamsError({
      code: LOCAL_CODES.connectionRefused,
      upstreamMessage: `connection to ${options.endpoint} was refused (${errno})`,
    });
  }
  if (errno !== undefined && DNS_ERRNOS.has(errno)) {
    return new CamsError({
      code: LOCAL_CODES.dnsFailure,
      upstreamMessage: `the endpoint's name ${options.endpoint} did not resolve (${errno})`,
    });
  }
  if (errno !== undefined && UNREACHABLE_ERRNOS.has(errno)) {
    return new CamsError({
      code: LOCAL_CODES.hostUnreachable,
      upstreamMessage: `no route to ${options.endpoint} (${errno})`,
    });
  }
  if (errno !== undefined && isTlsErrno(errno)) {
    return new CamsError({
      code: LOCAL_CODES.tlsFailure,
      upstreamMessage: `TLS with ${options.endpoint} failed (${errno})`,
    });
  }
  // HTTP >= 400: the SDK throws a Tea ResponseError whose `data` is the parsed error body plus
  // `statusCode`; its own `message` is "<Code>: code: <status>, <Message> request id: <RequestId>".
  const data = e['data'];
  if (isRecord(data) && typeof data['statusCode'] === 'number') {
    const status = data['statusCode'];
    return new CamsError({
      code: str(data['Code']) ?? str(data['code']) ?? `HTTP.${status}`,
      upstreamMessage: str(data['Message']) ?? str(data['message']) ?? `HTTP ${status}`,
      requestId: str(data['RequestId']) ?? str(data['requestId']),
      httpStatus: status,
    });
  }
  // The SDK parses every body as JSON, error bodies included; a proxy's HTML page ends here.
  if (err instanceof SyntaxError) {
    return new CamsError({ code: LOCAL_CODES.malformed, upstreamMessage: 'the answer was not JSON' });
  }
  if (message === 'socket hang up') {
    return new CamsError({
      code: LOCAL_CODES.connectionReset,
      upstreamMessage: `connection to ${options.endpoint} was closed before an answer (socket hang up)`,
    });
  }
  return new CamsError({
    code: LOCAL_CODES.transportUnknown,
    upstreamMessage: `request to ${options.endpoint} failed (${errno ?? name ?? 'unknown error'})`,
  });
}

/**
 * Turns an HTTP 200 body into a profile, or a `CamsError` when the body reports a failure (the
 * service may answer flow control with HTTP 200 and `Code: System.LimitControl`).
 * A success without a `Data` object is `Response.NoData`, permanent for this number: the call
 * worked and there is nothing to store, so asking again would only spend quota.
 */
function profileFromBody(body: unknown, status: number | undefined, headers?: unknown): BusinessProfile {
  if (!isRecord(body)) {
    throw new CamsError({
      code: LOCAL_CODES.malformed,
      upstreamMessage: 'the answer was not a JSON object',
      httpStatus: status,
    });
  }
  const code = str(body['Code']);
  const requestId = str(body['RequestId']);
  const upstreamMessage = str(body['Message']) ?? '';
  if ((code !== undefined && code !== 'OK') || body['Success'] === false) {
    throw new CamsError({
      code: code !== undefined && code !== 'OK' ? code : LOCAL_CODES.unsuccessful,
      upstreamMessage: upstreamMessage || 'the call did not succeed',
      requestId,
      httpStatus: status,
      retryAfterMs: retryAfterMs(headers),
    });
  }
  const data = body['Data'];
  if (!isRecord(data)) {
    throw new CamsError({
      code: LOCAL_CODES.noData,
      upstreamMessage: 'the call succeeded but returned no business profile',
      requestId,
      httpStatus: status,
    });
  }
  return profileFromData(data, requestId ?? '');
}

/**
 * What `@alicloud/openapi-client` asks for credentials before signing each request (the shape of
 * `@alicloud/credentials`' `Credential`). Failures become a `CamsError`, which the client passes on.
 */
function sdkCredential(source: CredentialSource, seen: (c: ResolvedCredentials) => void) {
  const current = async (): Promise<ResolvedCredentials> => {
    try {
      const c = await source.get();
      seen(c);
      return c;
    } catch (err) {
      throw new CamsError({
        code: LOCAL_CODES.credentialsUnavailable,
        upstreamMessage: err instanceof Error ? err.message : 'no credentials',
      });
    }
  };
  return {
    async getCredential() {
      const c = await current();
      return {
        accessKeyId: c.accessKeyId,
        accessKeySecret: c.accessKeySecret.reveal(),
        securityToken: c.securityToken?.reveal(),
        bearerToken: undefined,
        type: c.securityToken ? 'sts' : 'access_key',
        providerName: c.provider,
      };
    },
    getType: () => 'credential_chain',
    getBearerToken: () => undefined,
    getAccessKeyId: async () => (await current()).accessKeyId,
    getAccessKeySecret: async () => (await current()).accessKeySecret.reveal(),
    getSecurityToken: async () => (await current()).securityToken?.reveal(),
  };
}

export function createCamsClient(options: CamsClientOptions): CamsClient {
  watchRequests();
  const source = 'get' in options.credentials ? options.credentials : staticCredentials(options.credentials);
  /** Every secret and token used so far, to keep out of errors. */
  const secrets = new Set<string>();
  const credential = sdkCredential(source, (c) => {
    secrets.add(c.accessKeySecret.reveal());
    if (c.securityToken) secrets.add(c.securityToken.reveal());
  });
  const sdk = new OpenApiClient(
    new OpenApiConfig({
      // The SDK types this as `@alicloud/credentials`' class; it only calls the methods above.
      credential: credential as unknown as OpenApiConfig['credential'],
      endpoint: options.endpoint,
      protocol: options.protocol,
      regionId: options.regionId,
      connectTimeout: options.connectTimeoutMs,
      readTimeout: options.readTimeoutMs,
    }),
  );
  const params = new Params({
    action: ACTION,
    version: API_VERSION,
    protocol: options.protocol.toUpperCase(),
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'json',
    bodyType: 'json',
  });
  const runtime = new RuntimeOptions({
    connectTimeout: options.connectTimeoutMs,
    readTimeout: options.readTimeoutMs,
    autoretry: false,
    maxAttempts: 1,
  });

  /**
   * Every error leaves with the number masked wherever its message echoes it, and (defence in
   * depth) without a secret or token, whatever text reached it.
   */
  const finish = (err: CamsError, phoneNumber: string): CamsError => {
    let upstreamMessage = err.upstreamMessage;
    let requestId = err.requestId;
    for (const secret of secrets) {
      if (secret === '') continue;
      upstreamMessage = upstreamMessage.split(secret).join('[redacted]');
      if (requestId?.includes(secret)) requestId = undefined;
    }
    return new CamsError({
      code: err.code,
      upstreamMessage,
      requestId,
      httpStatus: err.httpStatus,
      retryAfterMs: err.retryAfterMs,
      phoneNumber,
    });
  };

  return {
    warmUp: () => warmUp(options, params),
    async queryPhoneBusinessProfile(input: QueryInput): Promise<BusinessProfile> {
      const request = new OpenApiRequest({
        query: OpenApiUtil.query({ CustSpaceId: input.custSpaceId, PhoneNumber: input.phoneNumber }),
        // The SDK's own timestamp, from `now`: the SDK lets a request's headers override its own.
        ...(options.now ? { headers: { 'x-acs-date': acsDate(options.now()) } } : {}),
      });
      let response: unknown;
      try {
        response = await withTimeouts(() => sdk.callApi(params, request, runtime), options, input.signal);
      } catch (err) {
        if (input.signal?.aborted) throw err;
        throw finish(err instanceof CamsError ? err : errorFromSdk(err, options), input.phoneNumber);
      }
      const r = isRecord(response) ? response : {};
      const status = typeof r['statusCode'] === 'number' ? r['statusCode'] : undefined;
      try {
        return profileFromBody(r['body'], status, r['headers']);
      } catch (err) {
        throw err instanceof CamsError ? finish(err, input.phoneNumber) : err;
      }
    },
  };
}

/**
 * The SDK's whole request path once, against a throwaway server on loopback with a made-up key (its
 * code runs compiled from then on), then a bare `HEAD /` to the endpoint through the SDK's own
 * transport: no API call and no AccessKey, but it leaves an open connection in the pool the calls
 * use. Each step is bounded by the connect timeout (at most 2 s) and its failure is ignored.
 */
async function warmUp(options: CamsClientOptions, params: Params): Promise<void> {
  const limitMs = Math.min(options.connectTimeoutMs, 2000);
  const runtime = new RuntimeOptions({ connectTimeout: limitMs, readTimeout: limitMs, autoretry: false });
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ RequestId: 'warm-up', Code: 'OK', Data: {} }));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    const rehearsal = new OpenApiClient(
      new OpenApiConfig({
        accessKeyId: 'warm-up',
        accessKeySecret: 'warm-up',
        endpoint: `127.0.0.1:${port}`,
        protocol: 'http',
        regionId: options.regionId,
      }),
    );
    const request = new OpenApiRequest({
      query: OpenApiUtil.query({ CustSpaceId: 'warm-up', PhoneNumber: '0' }),
    });
    await rehearsal.callApi(new Params({ ...params, protocol: 'HTTP' }), request, runtime);
  } catch {
    // Only a rehearsal.
  } finally {
    server.closeAllConnections();
    server.close();
  }
  try {
    // The SDK's transport builds the URL from the host header, port (and IPv6 brackets) included.
    const head = new TeaRequest();
    head.protocol = options.protocol;
    head.method = 'HEAD';
    head.pathname = '/';
    head.headers = { host: options.endpoint };
    const response = await doAction(head, runtime);
    // Done once the agent took the socket back into its pool (or the server closed it).
    const socket = response.body.socket;
    const pooled = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, limitMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.once('free', done);
      socket.once('close', done);
    });
    // Read through the SDK's transport, which also stops its read timer on the socket.
    await response.readBytes();
    await pooled;
  } catch {
    // The first call opens its own connection then.
  }
}

/**
 * A client for the configured endpoint with credentials from the chain (`src/cams/credentials.ts`);
 * throws `AppError('CREDENTIALS_MISSING')` when the chain finds none now.
 */
/** The SDK's `x-acs-date` format, `2024-11-18T08:15:00Z`. */
function acsDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function camsClientFromConfig(config: Config): Promise<CamsClient> {
  const offset = config.clockOffsetMs;
  return createCamsClient({
    ...(offset !== 0 ? { now: () => Date.now() + offset } : {}),
    credentials: await requireCredentialSource(config),
    endpoint: config.camsEndpoint,
    protocol: config.camsProtocol,
    regionId: config.camsRegion,
    connectTimeoutMs: config.camsConnectTimeoutMs,
    readTimeoutMs: config.camsReadTimeoutMs,
  });
}
