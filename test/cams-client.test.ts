import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { inspect } from 'node:util';
import { describe, it, expect, afterEach } from 'vitest';
import { createCamsClient } from '../src/cams/cams-client.js';
import type { CamsClient, CamsClientOptions } from '../src/cams/cams-client.js';
import { CamsError } from '../src/cams/cams-error.js';
import { profileFromData } from '../src/cams/profile.js';
import { lookupCommand } from '../src/commands/lookup.js';
import type { CommandContext } from '../src/commands/context.js';
import { Secret, loadConfig } from '../src/config.js';
import { AppError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { FaultRule, Simulator } from '../src/simulator/simulator.js';
import { profileFor } from '../src/simulator/profiles.js';
import {
  accountRateKey,
  forgetAccount,
  limiterKeys,
  readLimiterState,
  redisRateStateAt,
} from '../src/queue/rate-controller.js';
import { deleteQueueKeys, redisUrl, testQueueName, testRedis } from './helpers/services.js';

const KEY_ID = 'LTAI5tTestKeyId0001';
const SECRET = 'sEcReT-0123456789abcdefghijklmnop';
const SPACE = '2934839388494';
const PHONE = '8613800001234';
const INPUT = { custSpaceId: SPACE, phoneNumber: PHONE };

let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function simulator(
  opts: { faults?: FaultRule[]; rate?: number; profile?: (phone: string) => Record<string, unknown> } = {},
): Promise<Simulator> {
  sim = await startSimulator({ accessKeyId: KEY_ID, accessKeySecret: SECRET, ...opts });
  return sim;
}

function client(
  endpoint: string,
  over: Partial<CamsClientOptions> & { id?: string; secret?: string } = {},
): CamsClient {
  const { id, secret, ...rest } = over;
  return createCamsClient({
    credentials: { accessKeyId: id ?? KEY_ID, accessKeySecret: new Secret(secret ?? SECRET) },
    endpoint,
    protocol: 'http',
    regionId: 'ap-southeast-1',
    connectTimeoutMs: 5000,
    readTimeoutMs: 5000,
    ...rest,
  });
}

/** `127.0.0.1:<port>` where nobody listens (a port that was just free). */
async function closedEndpoint(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

/** The error a call fails with; fails the test when the call succeeds. */
async function failure(c: CamsClient): Promise<CamsError> {
  const outcome = await c.queryPhoneBusinessProfile(INPUT).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(CamsError);
  return outcome as CamsError;
}

function expectNoSecret(err: unknown, secret: string): void {
  for (const text of [
    String(err),
    (err as Error).message,
    JSON.stringify(err),
    inspect(err, { depth: 10 }),
  ]) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(PHONE);
  }
}

const trimmed = (s: string): string => s.trim();

describe('profileFromData', () => {
  it('trims text, keeps a blank as an empty string, a missing field as null, and raw as received', () => {
    const data = { Vertical: 'Retail\n', Description: '  \n', Websites: null, Email: 7 };
    const p = profileFromData(data, 'R1');
    expect(p).toMatchObject({
      vertical: 'Retail',
      description: '',
      email: null,
      address: null,
      websites: [],
      requestId: 'R1',
    });
    expect(p.raw).toBe(data);
    expect(profileFromData({ Websites: [' https://a.example ', '', 3, '\n'] }, 'R2').websites).toEqual([
      'https://a.example',
      '',
      '',
    ]);
  });
});

describe('CamsClient.warmUp', () => {
  it('opens the connection the first call then uses, with a bare HEAD that is no API call', async () => {
    const seen: { method: string; url: string; signed: boolean }[] = [];
    let connections = 0;
    const server = createHttpServer((req, res) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        signed: req.headers.authorization !== undefined,
      });
      req.resume();
      if (req.method === 'HEAD') {
        // With its length, as a gateway answers; Node closes the connection after a HEAD answer without one.
        res.writeHead(404, { 'content-length': '0' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ RequestId: 'R1', Code: 'OK', Data: { Vertical: 'Retail' } }));
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = client(`127.0.0.1:${(server.address() as AddressInfo).port}`);
      await c.warmUp?.();
      expect(seen).toEqual([{ method: 'HEAD', url: '/', signed: false }]);
      expect(connections).toBe(1);
      expect((await c.queryPhoneBusinessProfile(INPUT)).vertical).toBe('Retail');
      expect(seen.map((s) => [s.method, s.signed])).toEqual([
        ['HEAD', false],
        ['POST', true],
      ]);
      expect(connections).toBe(1); // the call went over the connection the warm-up opened
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('costs the simulator nothing and never fails, even with nobody listening', async () => {
    const s = await simulator();
    await client(s.endpoint).warmUp?.();
    expect(s.counters()).toMatchObject({ calls: 0, ok: 0, throttled: 0, rejected: 0, errors: 0 });
    await expect(client(await closedEndpoint()).warmUp?.()).resolves.toBeUndefined();
  });
});

describe('CamsClient against the simulator', () => {
  it('returns the profile with text trimmed and the Data object as raw', async () => {
    const s = await simulator();
    const profile = await client(s.endpoint).queryPhoneBusinessProfile({
      custSpaceId: SPACE,
      phoneNumber: PHONE,
    });
    const data = profileFor(PHONE);
    expect(data.Vertical.endsWith('\n')).toBe(true);
    expect(profile).toMatchObject({
      vertical: trimmed(data.Vertical),
      description: trimmed(data.Description),
      email: trimmed(data.Email),
      address: trimmed(data.Address),
      profilePictureUrl: trimmed(data.ProfilePictureUrl),
      websites: data.Websites.map((w) => w.trim()).filter((w) => w !== ''),
      about: trimmed(data.About),
    });
    expect(profile.requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(profile.raw).toEqual(data);
    expect(s.counters().ok).toBe(1);
  });

  it('fails a wrong secret as SignatureDoesNotMatch for the whole account, without the secret', async () => {
    const s = await simulator();
    const wrong = 'wrong-secret-value-42';
    const err = await failure(client(s.endpoint, { secret: wrong }));
    expect(err.code).toBe('SignatureDoesNotMatch');
    expect(err).toMatchObject({ classification: 'permanent', scope: 'account', httpStatus: 400 });
    expect(err.requestId).toBeTruthy();
    expectNoSecret(err, wrong);
    expectNoSecret(err, SECRET);
  });

  it('fails an unknown AccessKey id for the whole account', async () => {
    const s = await simulator();
    const err = await failure(client(s.endpoint, { id: 'LTAI5tNobody' }));
    expect(err.code).toMatch(/^InvalidAccessKeyId/);
    expect(err).toMatchObject({ classification: 'permanent', scope: 'account' });
    expectNoSecret(err, SECRET);
  });

  it.each(['http400', 'http200'] as const)(
    'backs off the whole queue on System.LimitControl in %s form',
    async (form) => {
      const s = await simulator({
        faults: [{ answer: { kind: 'error', code: 'System.LimitControl', form } }],
      });
      const err = await failure(client(s.endpoint));
      expect(err).toMatchObject({ code: 'System.LimitControl', classification: 'throttled', scope: null });
      expect(err.httpStatus).toBe(form === 'http400' ? 400 : 200);
      expect(err.upstreamMessage).toBe('The system is under flow control.');
      expectNoSecret(err, SECRET);
    },
  );

  it('is throttled by the rate limiter itself past the per-second limit', async () => {
    const s = await simulator({ rate: 1 });
    const c = client(s.endpoint);
    // Sent together, so they reach the simulator within one second however loaded the machine is.
    const outcomes = await Promise.allSettled([1, 2, 3].map(() => c.queryPhoneBusinessProfile(INPUT)));
    const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as CamsError] : []));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    for (const err of errors) expect(err.classification).toBe('throttled');
  });

  it('fails only this number on Unknown.ResourceOwnerId', async () => {
    const s = await simulator({
      faults: [{ answer: { kind: 'error', code: 'Unknown.ResourceOwnerId', form: 'http400' } }],
    });
    const err = await failure(client(s.endpoint));
    expect(err).toMatchObject({
      code: 'Unknown.ResourceOwnerId',
      classification: 'permanent',
      scope: 'number',
      httpStatus: 400,
    });
    expect(err.requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(err.message).toMatch(
      /^CAMS Unknown\.ResourceOwnerId \(HTTP 400, RequestId [0-9A-F-]+\): The resource does not belong/,
    );
    // The id a user quotes to support is shown whole, whatever digits it holds.
    expect(err.message).toContain(`RequestId ${err.requestId ?? 'missing'})`);
  });

  it('pauses the account on Product.Unsubscript sent with HTTP 200', async () => {
    const s = await simulator({
      faults: [{ answer: { kind: 'error', code: 'Product.Unsubscript', form: 'http200' } }],
    });
    const err = await failure(client(s.endpoint));
    expect(err).toMatchObject({
      code: 'Product.Unsubscript',
      classification: 'permanent',
      scope: 'account',
      httpStatus: 200,
    });
  });

  it('retries a 503 as transient', async () => {
    const s = await simulator({ faults: [{ answer: { kind: 'http', status: 503 } }] });
    const err = await failure(client(s.endpoint));
    expect(err).toMatchObject({ classification: 'transient', scope: null, httpStatus: 503 });
  });

  it('gives up on a hung answer after the read timeout, also on a reused connection', async () => {
    const s = await simulator();
    // The socket's idle timeout is the connect timeout: a minute, longer than the test may run, so
    // only the read deadline can end the hung call.
    const c = client(s.endpoint, { readTimeoutMs: 300, connectTimeoutMs: 60_000 });
    // A first call leaves a kept-alive socket behind; the hung call reuses it.
    await c.queryPhoneBusinessProfile(INPUT);
    s.setFaults([{ answer: { kind: 'hang' } }]);
    const err = await failure(c);
    expect(err).toMatchObject({ code: 'Transport.Timeout', classification: 'transient' });
    expect(err.upstreamMessage).toBe('no answer within the read timeout (300 ms)');
    expect(s.counters().hung).toBe(1);
    expectNoSecret(err, SECRET);
  });

  it('gives up on a hung answer on a fresh connection', async () => {
    const s = await simulator({ faults: [{ answer: { kind: 'hang' } }] });
    const err = await failure(client(s.endpoint, { readTimeoutMs: 300, connectTimeoutMs: 60_000 }));
    expect(err.code).toBe('Transport.Timeout');
    expect(err.upstreamMessage).toBe('no answer within the read timeout (300 ms)');
  });

  it('waits for a slow answer past the connect timeout, up to the read timeout, on a fresh and a reused connection', async () => {
    const s = await simulator({ faults: [{ answer: { kind: 'slow', delayMs: 600 } }] });
    // The answer comes three times later than the connect timeout allows for opening the connection.
    const c = client(s.endpoint, { connectTimeoutMs: 200, readTimeoutMs: 30_000 });
    await expect(c.queryPhoneBusinessProfile(INPUT)).resolves.toMatchObject({ vertical: expect.any(String) });
    await expect(c.queryPhoneBusinessProfile(INPUT)).resolves.toMatchObject({ vertical: expect.any(String) });
    expect(s.counters().ok).toBe(2);
  });

  it('names the read timeout, not the connect timeout, when an answer is later than both', async () => {
    const s = await simulator({ faults: [{ answer: { kind: 'slow', delayMs: 20_000 } }] });
    const err = await failure(client(s.endpoint, { connectTimeoutMs: 100, readTimeoutMs: 400 }));
    expect(err).toMatchObject({ code: 'Transport.Timeout', classification: 'transient' });
    expect(err.upstreamMessage).toBe('no answer within the read timeout (400 ms)');
  });

  it('fails a connection that never opens after the connect timeout, however long the read timeout', async () => {
    // Accepts TCP but never answers the TLS handshake: the https connection never opens.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const c = client(endpoint, { protocol: 'https', connectTimeoutMs: 300, readTimeoutMs: 600_000 });
      const err = await failure(c);
      expect(err).toMatchObject({ code: 'Transport.Timeout', classification: 'transient' });
      expect(err.upstreamMessage).toBe(`connection to ${endpoint} timed out (connect timeout 300 ms)`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('calls an endpoint given as an IPv6 address in brackets', async () => {
    sim = await startSimulator({ accessKeyId: KEY_ID, accessKeySecret: SECRET, host: '::1' });
    expect(sim.endpoint).toMatch(/^\[::1\]:\d+$/);
    const c = client(sim.endpoint);
    await c.warmUp?.();
    await expect(c.queryPhoneBusinessProfile(INPUT)).resolves.toMatchObject({ vertical: expect.any(String) });
    expect(sim.counters().ok).toBe(1);
  });

  it('retries a refused connection as transient', async () => {
    const err = await failure(client(await closedEndpoint()));
    expect(err).toMatchObject({
      code: 'Transport.ConnectionRefused',
      classification: 'transient',
      scope: null,
    });
    expect(err.httpStatus).toBeUndefined();
    expectNoSecret(err, SECRET);
  });

  it('fails a call as Credentials.Unavailable, transient, when the credential source has nothing', async () => {
    const s = await simulator();
    const c = createCamsClient({
      credentials: { get: () => Promise.reject(new Error('no provider answered')) },
      endpoint: s.endpoint,
      protocol: 'http',
      regionId: 'ap-southeast-1',
      connectTimeoutMs: 5000,
      readTimeoutMs: 5000,
    });
    const err = await failure(c);
    expect(err).toMatchObject({ code: 'Credentials.Unavailable', classification: 'transient' });
    expect(s.counters().calls).toBe(0);
  });

  it('does not show the secret when the client itself is inspected', async () => {
    const s = await simulator();
    const c = client(s.endpoint);
    expect(inspect(c, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(JSON.stringify(c)).not.toContain(SECRET);
  });
});

describe('lookupCommand', () => {
  function context(env: Record<string, string>) {
    const out: string[] = [];
    const err: string[] = [];
    const ctx: CommandContext = {
      config: loadConfig(env),
      log: createLogger({ level: 'silent' }),
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      signal: new AbortController().signal,
    };
    return { ctx, out, err };
  }
  // Each test's lookups use a queue name and an account of their own, so their rate controller is theirs.
  const queues: string[] = [];
  afterEach(async () => {
    const redis = testRedis();
    for (const q of queues.splice(0)) {
      await deleteQueueKeys(redis, q);
      await forgetAccount(redis, q);
    }
    await redis.quit();
  });
  const envFor = (s: Simulator) => {
    const queue = testQueueName();
    queues.push(queue);
    return {
      ALIBABA_CLOUD_ACCESS_KEY_ID: KEY_ID,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET,
      CAMS_ENDPOINT: s.endpoint,
      CAMS_PROTOCOL: 'http',
      CAMS_QUEUE: queue,
      CAMS_ACCOUNT: queue,
      REDIS_URL: redisUrl(),
    };
  };

  it("takes a slot from the fleet's rate controller, and reports a throttle to it", async () => {
    const s = await simulator({
      faults: [{ answer: { kind: 'error', code: 'System.LimitControl', form: 'http400' }, times: 1 }],
    });
    const env = envFor(s);
    const redis = testRedis();
    try {
      const key = accountRateKey(env.CAMS_ACCOUNT);
      expect((await readLimiterState(redisRateStateAt(redis, key), 10)).active).toBe(false);
      expect(await lookupCommand(PHONE, { space: SPACE }, context(env).ctx)).toBe(1);
      expect((await readLimiterState(redisRateStateAt(redis, key), 10)).throttlesLastMinute).toBe(1);
      expect(await lookupCommand(PHONE, { space: SPACE }, context(env).ctx)).toBe(0);
      expect(await redis.zcard(limiterKeys(key)[1])).toBe(2);
      // A lookup keeps to the fleet's quota but does not decide it: only a worker stores one.
      expect((await readLimiterState(redisRateStateAt(redis, key), 10)).quotaStored).toBe(false);
    } finally {
      await redis.quit();
    }
  });

  it('prints one JSON object with trimmed fields', async () => {
    const s = await simulator();
    const { ctx, out, err } = context(envFor(s));
    expect(await lookupCommand('+86 138-0000-1234', { space: SPACE, json: true }, ctx)).toBe(0);
    expect(out).toHaveLength(1);
    expect(err).toEqual([]);
    const printed = JSON.parse(out[0] ?? '') as Record<string, unknown>;
    const data = profileFor(PHONE);
    expect(printed).toMatchObject({
      custSpaceId: SPACE,
      phoneNumber: PHONE,
      vertical: data.Vertical.trim(),
      description: data.Description.trim(),
      address: data.Address.trim(),
    });
    expect(Object.keys(printed)).toEqual(
      'custSpaceId phoneNumber vertical description email address profilePictureUrl websites about requestId'.split(
        ' ',
      ),
    );
  });

  it('prints aligned key: value lines without --json', async () => {
    const s = await simulator();
    const { ctx, out } = context(envFor(s));
    expect(await lookupCommand('0086 138 0000 1234', { space: SPACE }, ctx)).toBe(0);
    expect(out[0]).toMatch(/^custSpaceId: +2934839388494$/);
    expect(out.find((l) => l.startsWith('vertical:'))).toMatch(
      new RegExp(`: +${profileFor(PHONE).Vertical.trim()}$`),
    );
    const valueColumns = new Set(out.map((l) => /^\S+ +/.exec(l)?.[0].length));
    expect(valueColumns.size).toBe(1);
  });

  it('prints no control character from CAMS to the terminal, and escapes them all in --json', async () => {
    const hostile = {
      Vertical: 'Retail\u001b]0;owned\u0007\n',
      Description: 'clears \u001b[2J\u001b[Hthe screen\r\nand\tmore',
      Email: 'a@example.com\u009b31m',
      Address: 'bell\u0007\u007f',
      Websites: ['https://a.example.com/\u001b[1A'],
      About: 'ok',
    };
    const s = await simulator({ profile: () => hostile });
    const text = context(envFor(s));
    expect(await lookupCommand(PHONE, { space: SPACE }, text.ctx)).toBe(0);
    for (const line of text.out) expect(line).not.toMatch(/\p{Cc}/u);
    expect(text.out).toContainEqual(expect.stringMatching(/^vertical: +Retail]0;owned$/));
    expect(text.out).toContainEqual(
      expect.stringMatching(/^description: +clears \[2J\[Hthe screen and more$/),
    );
    expect(text.out).toContainEqual(expect.stringMatching(/^email: +a@example.com31m$/));

    const json = context(envFor(s));
    expect(await lookupCommand(PHONE, { space: SPACE, json: true }, json.ctx)).toBe(0);
    expect(json.out).toHaveLength(1);
    expect(json.out[0]).not.toMatch(/\p{Cc}/u);
    // The JSON still holds the text as CAMS sent it (trimmed), escaped.
    expect(JSON.parse(json.out[0] ?? '')).toMatchObject({
      vertical: 'Retail\u001b]0;owned\u0007',
      email: 'a@example.com\u009b31m',
      address: 'bell\u0007\u007f',
    });
  });

  it('prints a CAMS error on one line and as JSON, and exits 1', async () => {
    const s = await simulator({
      faults: [{ answer: { kind: 'error', code: 'System.LimitControl', form: 'http400' } }],
    });
    const { ctx, out, err } = context(envFor(s));
    expect(await lookupCommand(PHONE, { space: SPACE, json: true }, ctx)).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(
      /^error: System\.LimitControl \(throttled\): The system is under flow control\. \[HTTP 400, RequestId .+\]$/,
    );
    expect(JSON.parse(out[0] ?? '')).toMatchObject({
      error: { code: 'System.LimitControl', classification: 'throttled', scope: null, httpStatus: 400 },
    });
  });

  it('refuses a number that is not one, before calling CAMS', async () => {
    const s = await simulator();
    const { ctx } = context(envFor(s));
    await expect(lookupCommand('12-34', { space: SPACE }, ctx)).rejects.toMatchObject({
      name: 'AppError',
      code: 'USAGE',
      exitCode: 2,
    });
    expect(s.counters().calls).toBe(0);
  });

  it('fails at once without credentials, naming the variable', async () => {
    const { ctx } = context({ ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' });
    const outcome = await lookupCommand(PHONE, { space: SPACE }, ctx).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(AppError);
    expect(outcome).toMatchObject({ code: 'CREDENTIALS_MISSING', exitCode: 2 });
    expect((outcome as AppError).message).toContain('ALIBABA_CLOUD_ACCESS_KEY_ID');
  });
});
