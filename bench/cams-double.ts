/**
 * An independent CAMS double for the fairness bench: a small HTTP server of its own (it shares no code
 * with the simulator or the rate controller) that answers QueryPhoneBusinessProfile-shaped JSON and
 * admits calls with a strict one-second sliding window per AccessKey: a call is admitted when fewer than
 * `rate` calls were admitted in the 1000 ms before it arrived, else answered `System.LimitControl`
 * (HTTP 400, the gateway's form). Signatures are not checked. Every call is logged with the time it
 * arrived (ms on this process's monotonic clock), its number and whether it was admitted, which is what
 * the bench's figures are computed from.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface DoubleCall {
  /** When the call arrived, `performance.now()` of this process. */
  at: number;
  /** The PhoneNumber parameter, as sent. */
  number: string;
  admitted: boolean;
}

export interface CamsDouble {
  /** `127.0.0.1:port`, for CAMS_ENDPOINT (with CAMS_PROTOCOL=http). */
  endpoint: string;
  /** Every call so far, in arrival order. */
  calls: DoubleCall[];
  close(): Promise<void>;
}

export interface CamsDoubleOptions {
  /** Calls admitted in any 1000 ms, per AccessKey. */
  rate: number;
  /** Time from admission to the answer, ms. Default 50. */
  latencyMs?: number;
}

function accessKeyOf(req: IncomingMessage): string {
  const auth = req.headers.authorization ?? '';
  return /Credential=([^,\s]+)/.exec(auth)?.[1] ?? 'anonymous';
}

function params(req: IncomingMessage, url: URL, body: string): Record<string, string> {
  const out: Record<string, string> = {};
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('json')) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(body) as Record<string, unknown>)) out[k] = String(v);
    } catch {
      // not JSON: no parameters from the body
    }
  } else if (body.length > 0) {
    for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  }
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

function answer(res: ServerResponse, status: number, json: Record<string, unknown>): void {
  const body = JSON.stringify(json);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export async function startCamsDouble(options: CamsDoubleOptions): Promise<CamsDouble> {
  const latency = options.latencyMs ?? 50;
  const calls: DoubleCall[] = [];
  // Per AccessKey, the arrival times of the admitted calls of the last second.
  const windows = new Map<string, number[]>();
  const server = createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const requestId = randomUUID().toUpperCase();
      if (req.method === 'HEAD') {
        res.writeHead(200);
        res.end();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://double');
      const p = params(req, url, Buffer.concat(chunks).toString('utf8'));
      if (req.headers['x-acs-action'] !== 'QueryPhoneBusinessProfile' || !p.PhoneNumber)
        return answer(res, 404, {
          RequestId: requestId,
          Code: 'InvalidAction.NotFound',
          Message: 'not found',
        });
      const key = accessKeyOf(req);
      let window = windows.get(key);
      if (!window) windows.set(key, (window = []));
      while (window.length > 0 && window[0]! <= at - 1000) window.shift();
      const admitted = window.length < options.rate;
      calls.push({ at, number: p.PhoneNumber, admitted });
      if (!admitted)
        return answer(res, 400, {
          RequestId: requestId,
          Code: 'System.LimitControl',
          Message: 'The system is under flow control.',
        });
      window.push(at);
      setTimeout(
        () =>
          answer(res, 200, {
            RequestId: requestId,
            Code: 'OK',
            Success: true,
            Message: 'None',
            AccessDeniedDetail: 'None',
            Data: {
              Vertical: 'Retail',
              Description: `Shop ${p.PhoneNumber!.slice(-4)}`,
              Email: 'shop@example.com',
              Address: '1 Main Street',
              ProfilePictureUrl: 'https://img.example.com/p.jpg',
              Websites: ['https://shop.example.com'],
              About: 'Open every day',
            },
          }),
        latency,
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `127.0.0.1:${port}`,
    calls,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
