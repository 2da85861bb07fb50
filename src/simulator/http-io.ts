/** Reading requests and writing answers in Alibaba Cloud's forms, for the simulator. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CAMS_ERROR_MESSAGES, type CamsErrorCode } from './faults.js';

const HOST_ID = 'cams.ap-southeast-1.aliyuncs.com';
const MAX_BODY_BYTES = 1024 * 1024;

export function send(res: ServerResponse, status: number, requestId: string, body: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-acs-request-id': requestId,
  });
  res.end(text);
}

/** Alibaba Cloud's gateway error form (HTTP 4xx/5xx). */
export function sendError(
  res: ServerResponse,
  status: number,
  requestId: string,
  code: string,
  message: string,
): void {
  send(res, status, requestId, {
    RequestId: requestId,
    HostId: HOST_ID,
    Code: code,
    Message: message,
    Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=cams&requestId=${requestId}`,
  });
}

/** The product's own error form: HTTP 200 with `Success: false`. */
export function sendError200(res: ServerResponse, requestId: string, code: CamsErrorCode): void {
  send(res, 200, requestId, {
    RequestId: requestId,
    Code: code,
    Message: CAMS_ERROR_MESSAGES[code],
    Success: false,
    AccessDeniedDetail: code === 'Ram.PermissionDeny' ? 'cams:QueryPhoneBusinessProfile' : 'None',
  });
}

export const SERVER_ERRORS = {
  500: [
    'InternalError',
    'The request processing has failed due to some unknown error, exception or failure.',
  ],
  502: ['BadGateway', 'The gateway received an invalid response from the upstream server.'],
  503: ['ServiceUnavailable', 'The request has failed due to a temporary failure of the server.'],
} as const;

/** The body, or undefined when it is larger than 1 MiB. */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) resolve(undefined);
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parameters of an RPC call: the query, then a form or JSON body for what the query lacks. */
export function bodyParams(req: IncomingMessage, body: Buffer): Record<string, string> {
  if (body.length === 0) return {};
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  const params: Record<string, string> = {};
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] ??= v;
  } else if (type.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (parsed && typeof parsed === 'object') {
        for (const [k, v] of Object.entries(parsed)) {
          if (typeof v === 'string' || typeof v === 'number') params[k] = String(v);
        }
      }
    } catch {
      // Not JSON: no parameters from the body.
    }
  }
  return params;
}
