/**
 * A local CAMS endpoint for QueryPhoneBusinessProfile (version 2020-06-06, RPC style): checks the
 * ACS3-HMAC-SHA256 signature like the real gateway, enforces a per-AccessKey calls-per-second limit
 * over a sliding one-second window, injects faults on demand and counts what it answered.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { NonceCache, verifyAcs3Request, type Acs3FailureReason } from './acs3-signature.js';
import { CAMS_ERROR_MESSAGES, FaultInjector, type FaultRule } from './faults.js';
import { bodyParams, readBody, send, sendError, sendError200, SERVER_ERRORS } from './http-io.js';
import { profileFor } from './profiles.js';
import { SlidingWindow } from './sliding-window.js';
import {
  drawDelay,
  PerSecond,
  startBackground,
  validateBackground,
  validateInboundDelay,
  type BackgroundClient,
  type BackgroundCounters,
  type InboundDelay,
} from './field.js';

export type { FaultRule } from './faults.js';
export type { BackgroundClient, InboundDelay } from './field.js';

export const CAMS_ACTION = 'QueryPhoneBusinessProfile';
export const CAMS_VERSION = '2020-06-06';
/** `GET` here returns the counters as JSON (a simulator extension, unsigned). */
export const COUNTERS_PATH = '/_simulator/counters';

/** An AccessKey the simulator accepts; with `securityToken`, an STS triple. */
export interface SimulatorKey {
  accessKeyId: string;
  accessKeySecret: string;
  /** When set, every request signed with this key must carry it, signed, in `x-acs-security-token`. */
  securityToken?: string | undefined;
}

export interface SimulatorOptions extends SimulatorKey {
  /** More keys accepted besides the one above (e.g. STS triples that replace each other). Default none. */
  moreKeys?: SimulatorKey[];
  /** Calls per second per AccessKey, sliding one-second window. Default 10. */
  rate?: number;
  /** How a throttle is answered: `http400` (default), `http200` (Success false) or `mixed` (alternating). */
  throttleForm?: 'http400' | 'http200' | 'mixed';
  /** Fault rules, first match wins. Default none. */
  faults?: FaultRule[];
  /**
   * The `Data` answered for a number, to serve odd answers (control characters, lone surrogates, other
   * shapes). Default `profileFor`: a made-up profile fixed per number.
   */
  profile?: (phoneNumber: string) => Record<string, unknown>;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Allowed |now - x-acs-date|. Default 15 minutes. */
  maxClockSkewMs?: number;
  /** A random delay on each request's way in, before the rate limiter counts it. Default none. */
  inboundDelay?: InboundDelay;
  /** Another client using part of the AccessKey's quota. Default none. */
  background?: BackgroundClient;
  /**
   * The rate limiter's clock in ms. Default `performance.now`. A test that fires a burst freezes it,
   * so the burst counts as one instant however slowly a loaded machine sends it.
   */
  clock?: () => number;
}

export interface SimulatorCounters {
  /** Requests that passed the signature and request checks and reached the rate limiter. */
  calls: number;
  /** Successful profile answers. */
  ok: number;
  /** System.LimitControl answers, both forms, from the limiter or injected. */
  throttled: number;
  /** Other error answers (injected CAMS errors and 5xx). */
  errors: number;
  /** Signature, AccessKey, timestamp, nonce, action, version and parameter rejections. */
  rejected: number;
  /** Calls injected with `hang` (never answered). */
  hung: number;
  /**
   * Most admitted calls (answered other than by a throttle) in any sliding 1000 ms window, the other
   * client's included: what the AccessKey used at most in any second.
   */
  maxCallsInAnyWindow: number;
  /** Most calls reaching the limiter, admitted or not, in any sliding 1000 ms window. */
  maxArrivalsInAnyWindow: number;
  /** Successful answers per phone number. */
  okByNumber: Record<string, number>;
  /** `calls` per CustSpaceId: the requests of each customer space that reached the limiter. */
  callsBySpace: Record<string, number>;
  /**
   * Calls admitted per whole second since the start (or the last reset), by the time they reached the
   * limiter: this client's use of the quota over time, counted independently of the limiter.
   */
  admittedPerSecond: number[];
  /** The other client's calls (`background`); never in the counters above except `maxCallsInAnyWindow`. */
  background: BackgroundCounters;
}

export interface Simulator {
  readonly port: number;
  readonly host: string;
  /** `host:port`, the value for CAMS_ENDPOINT. */
  readonly endpoint: string;
  counters(): SimulatorCounters;
  resetCounters(): void;
  setFaults(rules: FaultRule[]): void;
  /** Starts another client on the AccessKey (replacing any), or stops it with `undefined`. */
  setBackground(background: BackgroundClient | undefined): void;
  /** Replaces the delay on the way in (`undefined`: none). */
  setInboundDelay(delay: InboundDelay | undefined): void;
  /** Idempotent; also ends hung and idle connections. */
  close(): Promise<void>;
}

/** HTTP status of a refusal other than 400. */
const REJECTION_STATUS: Partial<Record<Acs3FailureReason, number>> = { 'InvalidAccessKeyId.NotFound': 404 };

function emptyCounters(): SimulatorCounters {
  return {
    calls: 0,
    ok: 0,
    throttled: 0,
    errors: 0,
    rejected: 0,
    hung: 0,
    maxCallsInAnyWindow: 0,
    maxArrivalsInAnyWindow: 0,
    okByNumber: {},
    callsBySpace: {},
    admittedPerSecond: [],
    background: { calls: 0, ok: 0, throttled: 0, running: false },
  };
}

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const rate = options.rate ?? 10;
  if (!(Number.isFinite(rate) && rate > 0))
    throw new RangeError(`rate must be a positive number (got ${rate})`);
  const throttleForm = options.throttleForm ?? 'http400';
  const maxClockSkewMs = options.maxClockSkewMs ?? 15 * 60_000;
  let injector = new FaultInjector(options.faults ?? []);
  const nonces = new NonceCache(maxClockSkewMs);
  const limiter = new Map<string, SlidingWindow>();
  let admittedStats = new SlidingWindow();
  let arrivalStats = new SlidingWindow();
  let counters = emptyCounters();
  const clock = options.clock ?? (() => performance.now());
  let perSecond = new PerSecond(clock());
  let inboundDelay = options.inboundDelay;
  if (inboundDelay) validateInboundDelay(inboundDelay);
  if (options.background) validateBackground(options.background);
  let throttleCount = 0;
  const timers = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | undefined;
  const keys = new Map<string, SimulatorKey>();
  for (const key of [options, ...(options.moreKeys ?? [])]) keys.set(key.accessKeyId, key);

  function snapshot(): SimulatorCounters {
    return {
      ...counters,
      okByNumber: { ...counters.okByNumber },
      callsBySpace: { ...counters.callsBySpace },
      admittedPerSecond: [...perSecond.counts],
      background: { ...counters.background },
    };
  }

  function answerOk(res: ServerResponse, requestId: string, phone: string): void {
    if (closing || res.destroyed) return;
    counters.ok += 1;
    counters.okByNumber[phone] = (counters.okByNumber[phone] ?? 0) + 1;
    send(res, 200, requestId, {
      AccessDeniedDetail: 'None',
      Message: 'None',
      RequestId: requestId,
      Data: (options.profile ?? profileFor)(phone),
      Code: 'OK',
      Success: true,
    });
  }

  function answerThrottle(res: ServerResponse, requestId: string, form: 'http400' | 'http200'): void {
    counters.throttled += 1;
    if (form === 'http200') sendError200(res, requestId, 'System.LimitControl');
    else sendError(res, 400, requestId, 'System.LimitControl', CAMS_ERROR_MESSAGES['System.LimitControl']);
  }

  function refuse(
    res: ServerResponse,
    requestId: string,
    status: number,
    code: string,
    message: string,
  ): void {
    counters.rejected += 1;
    sendError(res, status, requestId, code, message);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A call counts by when it arrived, as at a gateway, not by when this process got round to it.
    const receivedAt = clock();
    const requestId = randomUUID().toUpperCase();
    const body = await readBody(req);
    if (body === undefined)
      return refuse(res, requestId, 413, 'RequestTooLarge', 'The request body is too large.');
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (req.method === 'HEAD') {
      // No API call has this form (a client opening its connection ahead of its first call):
      // answered without a body and counted nowhere.
      res.writeHead(404, { 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method === 'GET' && url.pathname === COUNTERS_PATH) {
      // Not part of CAMS: lets a benchmark or a test read the counters of a simulator in another process.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(snapshot()));
      return;
    }
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] ??= v;
    const verdict = verifyAcs3Request(
      { method: req.method ?? 'GET', pathname: url.pathname, query, headers: req.headersDistinct },
      body,
      {
        lookupSecret: (id) => keys.get(id)?.accessKeySecret,
        now: Date.now(),
        maxClockSkewMs,
        nonceUsed: (id, nonce) => nonces.has(id, nonce, Date.now()),
      },
    );
    if (!verdict.ok)
      return refuse(res, requestId, REJECTION_STATUS[verdict.reason] ?? 400, verdict.reason, verdict.message);
    nonces.add(verdict.accessKeyId, verdict.nonce, verdict.dateMs, Date.now());
    // The signature check already made sure an `x-acs-security-token` sent is also signed.
    const expectedToken = keys.get(verdict.accessKeyId)?.securityToken;
    if (expectedToken !== undefined && req.headers['x-acs-security-token'] !== expectedToken) {
      const message = req.headers['x-acs-security-token']
        ? 'The security token does not belong to this AccessKey.'
        : 'This temporary AccessKey needs its security token (x-acs-security-token).';
      return refuse(res, requestId, 400, 'InvalidSecurityToken.MismatchWithAccessKey', message);
    }

    const action = req.headers['x-acs-action'];
    if (action !== CAMS_ACTION || url.pathname !== '/' || (req.method !== 'POST' && req.method !== 'GET')) {
      return refuse(
        res,
        requestId,
        404,
        'InvalidAction.NotFound',
        'Specified api is not found, please check your url and method.',
      );
    }
    if (req.headers['x-acs-version'] !== CAMS_VERSION) {
      return refuse(res, requestId, 400, 'InvalidVersion', 'Specified parameter Version is not valid.');
    }
    const params = { ...bodyParams(req, body), ...query };
    for (const name of ['CustSpaceId', 'PhoneNumber'] as const) {
      if (!params[name])
        return refuse(res, requestId, 400, `Missing${name}`, `${name} is mandatory for this action.`);
    }
    const phone = params.PhoneNumber ?? '';

    const delay = drawDelay(inboundDelay);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (closing || res.destroyed) return;
    const now = receivedAt + delay;
    counters.calls += 1;
    const space = params.CustSpaceId ?? '';
    counters.callsBySpace[space] = (counters.callsBySpace[space] ?? 0) + 1;
    counters.maxArrivalsInAnyWindow = Math.max(counters.maxArrivalsInAnyWindow, arrivalStats.add(now));
    let window = limiter.get(verdict.accessKeyId);
    if (!window) limiter.set(verdict.accessKeyId, (window = new SlidingWindow()));
    if (window.count(now) >= rate) {
      const form =
        throttleForm === 'mixed' ? (throttleCount++ % 2 === 0 ? 'http400' : 'http200') : throttleForm;
      return answerThrottle(res, requestId, form);
    }
    const fault = injector.pick(phone);
    if (fault?.kind === 'error' && fault.code === 'System.LimitControl')
      return answerThrottle(res, requestId, fault.form);
    window.add(now);
    counters.maxCallsInAnyWindow = Math.max(counters.maxCallsInAnyWindow, admittedStats.add(now));
    perSecond.add(now);

    if (fault === undefined) return answerOk(res, requestId, phone);
    switch (fault.kind) {
      case 'error':
        counters.errors += 1;
        if (fault.form === 'http200') return sendError200(res, requestId, fault.code);
        return sendError(res, 400, requestId, fault.code, CAMS_ERROR_MESSAGES[fault.code]);
      case 'http': {
        counters.errors += 1;
        const [code, message] = SERVER_ERRORS[fault.status];
        return sendError(res, fault.status, requestId, code, message);
      }
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answerOk(res, requestId, phone);
        }, fault.delayMs);
        timers.add(timer);
        res.on('close', () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
        return;
      }
      case 'hang':
        counters.hung += 1;
        return;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      sendError(res, 500, randomUUID().toUpperCase(), 'InternalError', String(err));
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  /** A call of the other client: admitted when the AccessKey's window has room. */
  function admitBackground(): boolean {
    const now = clock();
    let window = limiter.get(options.accessKeyId);
    if (!window) limiter.set(options.accessKeyId, (window = new SlidingWindow()));
    if (window.count(now) >= rate) return false;
    window.add(now);
    counters.maxCallsInAnyWindow = Math.max(counters.maxCallsInAnyWindow, admittedStats.add(now));
    return true;
  }
  let background: { stop(): void } | undefined;
  const setBackground = (b: BackgroundClient | undefined) => {
    background?.stop();
    background = b ? startBackground(b, admitBackground, counters.background) : undefined;
  };
  setBackground(options.background);

  const address = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';

  return {
    port: address.port,
    host,
    endpoint: `${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    counters: () => snapshot(),
    resetCounters() {
      const bg = counters.background;
      counters = emptyCounters();
      // A running other client keeps counting into the new counters.
      counters.background = Object.assign(bg, { calls: 0, ok: 0, throttled: 0 });
      perSecond = new PerSecond(clock());
      admittedStats = new SlidingWindow();
      arrivalStats = new SlidingWindow();
    },
    setFaults(rules) {
      injector = new FaultInjector(rules);
    },
    setBackground,
    setInboundDelay(delay) {
      if (delay) validateInboundDelay(delay);
      inboundDelay = delay;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        background?.stop();
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
