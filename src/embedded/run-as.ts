/**
 * Who runs the embedded server. PostgreSQL refuses to run as root, so a root process starts it as the
 * unprivileged `nobody` (uid and gid from /etc/passwd; no user is created), in a data directory that
 * user can reach.
 */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError } from '../errors.js';

export interface ServerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** The user the server runs as: undefined for a non-root process (itself), `nobody` for root. */
export function serverUser(passwdFile = '/etc/passwd'): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync(passwdFile, 'utf8');
  } catch {
    // No passwd file: the error below.
  }
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'nobody' && uid && gid && Number(uid) !== 0) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new AppError(
    'EMBEDDED_UNSUPPORTED',
    'PostgreSQL does not run as root, and this system has no user "nobody" to run the embedded server as: ' +
      'run cams-enrich as an ordinary user, or set DATABASE_URL to a PostgreSQL server',
  );
}

/** True when `user` may pass through (search) the directory whose mode, owner and group are given. */
function searchable(mode: number, owner: number, group: number, user: ServerUser): boolean {
  if (owner === user.uid) return (mode & 0o100) !== 0;
  if (group === user.gid) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/**
 * Throws `EMBEDDED_UNSUPPORTED` naming the first directory above `dir` that `user` cannot pass
 * through (root's home, mode 0700, is the usual one), and what to do.
 */
export async function assertReachable(dir: string, user: ServerUser): Promise<void> {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const s = await stat(d).catch(() => undefined);
    if (s && !searchable(s.mode, s.uid, s.gid, user)) {
      throw new AppError(
        'EMBEDDED_UNSUPPORTED',
        `as root, the embedded PostgreSQL server runs as the user ${user.name} (uid ${user.uid}), which cannot reach ` +
          `${dir} (${d} has mode ${(s.mode & 0o777).toString(8).padStart(4, '0')}): set CAMS_DATA_DIR to a directory it can reach ` +
          `(the default for root is /var/lib/cams-enrich), run cams-enrich as an ordinary user, or set DATABASE_URL to a PostgreSQL server`,
      );
    }
    if (dirname(d) === d) return;
  }
}
