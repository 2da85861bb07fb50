/**
 * Where cams-enrich keeps what it owns on the machine (the embedded PostgreSQL server's data, its
 * socket, its log), and the connection URL of that server, which follows from the directory alone.
 */
import { join } from 'node:path';

/** The embedded server's database holding the ledger and the queue. */
export const EMBEDDED_DATABASE = 'cams_enrich';
/** The superuser role the embedded server is created with. */
export const EMBEDDED_ROLE = 'postgres';
/** Longest Unix socket path the kernel takes (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH = 107;

/** The directory names the environment gives; the per-user default is chosen from them. */
export interface DataDirSources {
  /** `CAMS_DATA_DIR`: wins when set. */
  readonly dataDir: string | undefined;
  /** `XDG_DATA_HOME`, else `HOME`/.local/share. */
  readonly xdgDataHome: string | undefined;
  readonly home: string | undefined;
  /** The process's uid: root's default is a system path another user can reach. */
  readonly uid: number;
}

/**
 * `CAMS_DATA_DIR`, else `/var/lib/cams-enrich` for root (PostgreSQL runs as an unprivileged user, who
 * cannot reach root's home), else `$XDG_DATA_HOME/cams-enrich` or `~/.local/share/cams-enrich`.
 */
export function dataDirectory(s: DataDirSources): string {
  if (s.dataDir) return s.dataDir;
  if (s.uid === 0) return '/var/lib/cams-enrich';
  if (s.xdgDataHome) return join(s.xdgDataHome, 'cams-enrich');
  return join(s.home ?? '/tmp', '.local', 'share', 'cams-enrich');
}

/** The directory of the embedded server's Unix socket (`.s.PGSQL.5432` in it). */
export function embeddedSocketDir(dataDir: string): string {
  return join(dataDir, 'run');
}

/**
 * The URL of `database` on the embedded server: its Unix socket, no TCP port (the socket's directory
 * is the server user's own, mode 0700, so no other user of the machine can connect).
 */
export function embeddedDatabaseUrl(dataDir: string, database = EMBEDDED_DATABASE): string {
  return `postgres://${EMBEDDED_ROLE}@${encodeURIComponent(embeddedSocketDir(dataDir))}/${encodeURIComponent(database)}`;
}
