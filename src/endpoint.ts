/**
 * `host[:port]` as `CAMS_ENDPOINT` and `--endpoint` take it: a host name or IPv4 address, or an IPv6
 * address in brackets (`[::1]:8089`), and a port from 1 to 65535.
 */
import { isIPv6 } from 'node:net';

export interface Endpoint {
  /** The host without brackets (`::1`, `127.0.0.1`, `cams.ap-southeast-1.aliyuncs.com`). */
  host: string;
  port: number | undefined;
}

/** The parts of `value`, or why it is no `host[:port]` (a phrase to follow the variable's name). */
export function parseEndpoint(value: string): Endpoint | { problem: string } {
  const m =
    /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(value) ?? /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(value);
  const host = m?.[1];
  if (host === undefined || (value.startsWith('[') && !isIPv6(host))) {
    return {
      problem: `must be host[:port] without a scheme, an IPv6 address in brackets ([::1]:8089) (got '${value}')`,
    };
  }
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && !(port >= 1 && port <= 65535)) {
    return { problem: `port must be from 1 to 65535 (got '${value}')` };
  }
  return { host, port };
}
