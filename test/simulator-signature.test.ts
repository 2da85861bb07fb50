/**
 * Hand-built ACS3 requests: each defect is tried on a request that is first shown to be accepted
 * without it, so a refusal proves the check, not a broken request.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import OpenApiUtilModule from '@alicloud/openapi-util';
import {
  NonceCache,
  acsTimestamp,
  authorizationHeader,
  sha256Hex,
  verifyAcs3Request,
} from '../src/simulator/acs3-signature.js';
import { profileFor } from '../src/simulator/profiles.js';
import { startSimulator } from '../src/simulator/simulator.js';
import type { Simulator } from '../src/simulator/simulator.js';

function cjsDefault<T>(mod: { default: T }): T {
  return (mod as { default?: T }).default ?? (mod as unknown as T);
}
const OpenApiUtil = cjsDefault(OpenApiUtilModule);

const AK = 'LTAIhandbuilt000000001';
const SECRET = 'hand-built-secret-abcdefghij0123';

let sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

async function simulator(): Promise<Simulator> {
  const sim = await startSimulator({ accessKeyId: AK, accessKeySecret: SECRET });
  sims.push(sim);
  return sim;
}

interface Build {
  query?: Record<string, string>;
  date?: Date;
  nonce?: string;
  body?: { type: string; data: string };
  /** Bytes actually sent, when they should differ from the signed body. */
  sentBody?: string;
  extraHeaders?: Record<string, string>;
  /** Headers added after signing. */
  unsignedHeaders?: Record<string, string>;
}

interface Answer {
  status: number;
  json: { Code?: string; Message?: string; RequestId?: string; Data?: unknown; Success?: boolean };
}

/** Signs and sends one request the way openapi-client does. */
function send(sim: Simulator, b: Build = {}): Promise<Answer> {
  const query = b.query ?? { CustSpaceId: 'space-1', PhoneNumber: '8613800001234' };
  const payload = b.body?.data ?? '';
  const headers: Record<string, string> = {
    host: sim.endpoint,
    'x-acs-action': 'QueryPhoneBusinessProfile',
    'x-acs-version': '2020-06-06',
    'x-acs-date': acsTimestamp(b.date ?? new Date()),
    'x-acs-signature-nonce': b.nonce ?? randomUUID(),
    'x-acs-content-sha256': sha256Hex(payload),
    accept: 'application/json',
    ...(b.body ? { 'content-type': b.body.type } : {}),
    ...b.extraHeaders,
  };
  headers.authorization = authorizationHeader(
    { method: 'POST', pathname: '/', query, headers },
    headers['x-acs-content-sha256'] ?? '',
    AK,
    SECRET,
  );
  Object.assign(headers, b.unsignedHeaders);
  const sent = b.sentBody ?? payload;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: sim.host,
        port: sim.port,
        method: 'POST',
        path: `/?${new URLSearchParams(query).toString()}`,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['json'],
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(sent);
  });
}

describe('ACS3 signature checks on hand-built requests', () => {
  it('signs exactly like openapi-util getAuthorization', () => {
    const headers = {
      host: 'cams.ap-southeast-1.aliyuncs.com',
      'x-acs-action': 'QueryPhoneBusinessProfile',
      'x-acs-version': '2020-06-06',
      'x-acs-date': '2024-11-18T08:15:00Z',
      'x-acs-signature-nonce': 'abc',
      'x-acs-content-sha256': sha256Hex(''),
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'not signed',
    };
    const query = { PhoneNumber: '86 138(0000)*1234!', CustSpaceId: "a'b~c" };
    const ours = authorizationHeader(
      { method: 'POST', pathname: '/', query, headers },
      sha256Hex(''),
      AK,
      SECRET,
    );
    const theirs = OpenApiUtil.getAuthorization(
      { method: 'POST', pathname: '/', query, headers } as unknown as Parameters<
        typeof OpenApiUtil.getAuthorization
      >[0],
      'ACS3-HMAC-SHA256',
      sha256Hex(''),
      AK,
      SECRET,
    );
    expect(ours).toBe(theirs);
    expect(ours).toContain(
      'SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,',
    );
  });

  it('accepts a hand-built request and answers its number', async () => {
    const sim = await simulator();
    const a = await send(sim, { query: { CustSpaceId: 's', PhoneNumber: '5511912345678' } });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ Code: 'OK', Success: true, Data: profileFor('5511912345678') });
  });

  it('refuses a date older than the allowed skew with InvalidTimeStamp.Expired', async () => {
    const sim = await simulator();
    expect((await send(sim, { date: new Date(Date.now() - 14 * 60_000) })).json.Code).toBe('OK');
    const a = await send(sim, { date: new Date(Date.now() - 16 * 60_000) });
    expect(a).toMatchObject({ status: 400, json: { Code: 'InvalidTimeStamp.Expired' } });
    expect(a.json.RequestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(sim.counters()).toMatchObject({ calls: 1, ok: 1, rejected: 1 });
  });

  it('refuses a date too far in the future the same way', async () => {
    const sim = await simulator();
    expect((await send(sim, { date: new Date(Date.now() + 14 * 60_000) })).json.Code).toBe('OK');
    expect((await send(sim, { date: new Date(Date.now() + 16 * 60_000) })).json.Code).toBe(
      'InvalidTimeStamp.Expired',
    );
  });

  it('refuses a reused signature nonce with SignatureNonceUsed', async () => {
    const sim = await simulator();
    const nonce = randomUUID();
    const date = new Date();
    expect((await send(sim, { nonce, date })).json.Code).toBe('OK');
    const again = await send(sim, { nonce, date });
    expect(again).toMatchObject({ status: 400, json: { Code: 'SignatureNonceUsed' } });
    expect(sim.counters()).toMatchObject({ calls: 1, ok: 1, rejected: 1 });
  });

  it('reads parameters from a signed form body and refuses a body that does not match its hash', async () => {
    const sim = await simulator();
    const body = { type: 'application/x-www-form-urlencoded', data: 'PhoneNumber=6281234567890' };
    const ok = await send(sim, { query: { CustSpaceId: 's' }, body });
    expect(ok.json).toMatchObject({ Code: 'OK', Data: profileFor('6281234567890') });
    const tampered = await send(sim, {
      query: { CustSpaceId: 's' },
      body,
      sentBody: 'PhoneNumber=6281234567891',
    });
    expect(tampered).toMatchObject({ status: 400, json: { Code: 'InvalidContentSha256' } });
  });

  it('accepts a signed JSON body', async () => {
    const sim = await simulator();
    const a = await send(sim, { body: { type: 'application/json; charset=utf-8', data: '{"Note":"x"}' } });
    expect(a.json.Code).toBe('OK');
  });

  it('refuses an x-acs header that is sent but not signed', async () => {
    const sim = await simulator();
    expect((await send(sim, { extraHeaders: { 'x-acs-extra': '1' } })).json.Code).toBe('OK');
    const a = await send(sim, { unsignedHeaders: { 'x-acs-extra': '1' } });
    expect(a).toMatchObject({ status: 400, json: { Code: 'IncompleteSignature' } });
  });

  it('refuses a changed parameter after signing with SignatureDoesNotMatch', async () => {
    const sim = await simulator();
    expect((await send(sim, { unsignedHeaders: { host: sim.endpoint } })).json.Code).toBe('OK');
    const a = await send(sim, { unsignedHeaders: { 'x-acs-version': '2020-06-07' } });
    expect(a).toMatchObject({ status: 400, json: { Code: 'SignatureDoesNotMatch' } });
    expect(a.json.Message).toContain('ACS3-HMAC-SHA256\n');
  });

  it('refuses missing CustSpaceId and PhoneNumber as rejections, not calls', async () => {
    const sim = await simulator();
    expect((await send(sim, { query: { PhoneNumber: '8613800001234' } })).json.Code).toBe(
      'MissingCustSpaceId',
    );
    expect((await send(sim, { query: { CustSpaceId: 's' } })).json.Code).toBe('MissingPhoneNumber');
    expect(sim.counters()).toMatchObject({ calls: 0, rejected: 2 });
  });

  it('verifies without a server: an unsigned request is incomplete', () => {
    const v = verifyAcs3Request(
      { method: 'POST', pathname: '/', query: {}, headers: { host: 'h' } },
      Buffer.alloc(0),
      {
        lookupSecret: () => SECRET,
        now: Date.now(),
        maxClockSkewMs: 1000,
      },
    );
    expect(v).toMatchObject({ ok: false, reason: 'IncompleteSignature' });
  });
});

describe('nonce memory', () => {
  it('forgets nonces once their date is beyond the skew window', () => {
    const cache = new NonceCache(1000);
    const t0 = 1_000_000;
    cache.add(AK, 'a', t0, t0);
    cache.add(AK, 'b', t0 + 500, t0 + 500);
    expect(cache.has(AK, 'a', t0 + 900)).toBe(true);
    expect(cache.has(AK, 'a', t0 + 1001)).toBe(false);
    expect(cache.size).toBe(1);
    expect(cache.has(AK, 'b', t0 + 1400)).toBe(true);
  });

  it('never holds more than its cap', () => {
    const cache = new NonceCache(60_000, 100);
    for (let i = 0; i < 1000; i += 1) cache.add(AK, `n${i}`, 5, 5);
    expect(cache.size).toBe(100);
    expect(cache.has(AK, 'n999', 5)).toBe(true);
  });
});
