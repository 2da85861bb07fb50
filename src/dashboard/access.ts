/**
 * Who may see and steer the dashboard. Loopback needs no token; any other address needs
 * `DASHBOARD_TOKEN`, and the dashboard refuses to start without it. With a token, every request needs
 * it (`Authorization: Bearer <token>`, or basic auth with the token as password and any user name,
 * which browsers ask for themselves). Without one the dashboard is read-only: no request but GET/HEAD,
 * and only for a loopback Host header, so a page served from another name that resolves to 127.0.0.1
 * (DNS rebinding) reads nothing. The probes (`/healthz`, `/readyz`) answer a load balancer without
 * the token, by status code alone; their detail needs the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Secret } from '../config.js';
import { AppError } from '../errors.js';

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Throws `USAGE` (exit 2) when binding beyond loopback without a token. */
export function assertBindable(host: string, token: Secret | undefined): void {
  if (!isLoopback(host) && token === undefined) {
    throw new AppError(
      'USAGE',
      `refusing to listen on ${host} without DASHBOARD_TOKEN: set it, or leave --host at 127.0.0.1`,
    );
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Compares in constant time: both sides hashed to the same length first. */
export function tokenMatches(given: string, token: Secret): boolean {
  return timingSafeEqual(digest(given), digest(token.reveal()));
}

/** The token a request carries, from a bearer header or basic auth's password. */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme, value] = authorization.trim().split(/\s+/, 2);
  if (!scheme || !value) return undefined;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

const READS = new Set(['GET', 'HEAD']);

/** Health probes: open to a load balancer, content-free without the token. */
export const PROBES: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Whether a request may see detail: no token configured (loopback only), or the right one given. */
export function authorized(authorization: string | undefined, token: Secret | undefined): boolean {
  if (token === undefined) return true;
  const given = presentedToken(authorization);
  return given !== undefined && tokenMatches(given, token);
}

/** The host name of a Host header (`127.0.0.1:8080`, `[::1]:8080`, `localhost`), without its port. */
export function hostName(host: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
  if (bracketed) return `[${bracketed[1] ?? ''}]`;
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

export function accessControl(token: Secret | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (PROBES.has(c.req.path) && READS.has(c.req.method)) return next();
    if (token === undefined) {
      const host = c.req.header('host');
      if (host !== undefined && !isLoopback(hostName(host))) {
        return c.text(
          'this dashboard answers only to localhost, 127.0.0.1 or [::1] without DASHBOARD_TOKEN\n',
          403,
        );
      }
      if (!READS.has(c.req.method)) return c.text('read-only: set DASHBOARD_TOKEN to allow actions\n', 403);
      return next();
    }
    if (!authorized(c.req.header('authorization'), token)) {
      c.header('WWW-Authenticate', 'Basic realm="cams-enrich dashboard", charset="UTF-8"');
      return c.text('DASHBOARD_TOKEN required (Authorization: Bearer <token>, or basic auth)\n', 401);
    }
    // Browsers send basic auth on their own: an action from another site's page is refused.
    const origin = c.req.header('origin');
    if (!READS.has(c.req.method) && origin !== undefined && originHost(origin) !== c.req.header('host')) {
      return c.text('cross-site request refused\n', 403);
    }
    return next();
  };
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
