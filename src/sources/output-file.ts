/**
 * A file a command writes whole (an export): checked before anything is written, written to a temporary
 * file beside it and renamed into place at the end, so a reader never sees half a file and a failed
 * write leaves the destination as it was. It never writes through a symbolic link, onto anything that
 * is not a regular file, or onto a file it was told to protect (the input of the run being exported).
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, open, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { AppError, fileErrorReason, fileWriteError } from '../errors.js';

export interface OutputFileOptions {
  /**
   * Files that must not be replaced, by path: the destination is refused when it is one of them (same
   * device and inode, whatever the name or link). A path that does not exist protects nothing. Default: none.
   */
  protect?: readonly { path: string; what: string }[] | undefined;
  /** What the file is, in messages: `cannot write <what> <path>: …` (e.g. `rejects file`). Default: none. */
  what?: string | undefined;
}

export interface OutputFile {
  /** Where the content goes (a temporary file until `commit`). */
  readonly stream: Writable;
  /** Waits for the stream to finish, then renames the temporary file onto the destination. */
  commit(): Promise<void>;
  /** Removes the temporary file, leaving the destination as it was; idempotent. */
  discard(): Promise<void>;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Checks that `path` may be written: not a symbolic link, a regular file if it exists, none of
 * `protect`, in an existing directory. Throws `AppError('OUTPUT_FILE')` (exit 2) naming the path and
 * the reason. The one check of every path a command writes a file to (`export --output`,
 * `import --rejects`); returns what is there now (undefined when nothing is).
 */
export async function checkOutputPath(
  path: string,
  options: OutputFileOptions = {},
): Promise<Stats | undefined> {
  const name = options.what === undefined ? path : `${options.what} ${path}`;
  const refuse = (reason: string, cause?: unknown) =>
    new AppError('OUTPUT_FILE', `cannot write ${name}: ${reason}`, { cause });
  const existing = await lstatOrUndefined(path).catch((err: unknown) => {
    throw refuse(fileErrorReason(err, 'write'), err);
  });
  if (existing !== undefined) {
    if (existing.isSymbolicLink()) throw refuse('it is a symbolic link; name the file itself');
    if (existing.isDirectory()) throw refuse('it is a directory');
    if (!existing.isFile()) throw refuse('it is not a regular file');
    for (const p of options.protect ?? []) {
      const other = await stat(p.path).catch(() => undefined);
      if (other !== undefined && other.dev === existing.dev && other.ino === existing.ino) {
        throw refuse(`it is ${p.what}; name another file`);
      }
    }
  }
  const dir = await stat(dirname(path)).catch(() => undefined);
  if (dir === undefined) throw refuse('its directory does not exist');
  if (!dir.isDirectory()) throw refuse(`${dirname(path)} is not a directory`);
  return existing;
}

/** Checks `path` (see `checkOutputPath`) and creates the temporary file beside it. */
export async function openOutputFile(path: string, options: OutputFileOptions = {}): Promise<OutputFile> {
  await checkOutputPath(path, options);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const fail = (err: unknown) => fileWriteError(err, path);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx');
  } catch (err) {
    throw fail(err);
  }
  const stream = handle.createWriteStream();
  let failure: unknown;
  stream.on('error', (err) => {
    failure ??= err;
  });
  const finished = new Promise<void>((resolve) => stream.once('close', resolve));
  let discarding: Promise<void> | undefined;
  return {
    stream,
    async commit() {
      if (!stream.writableFinished && !stream.destroyed) stream.end();
      await finished;
      if (failure !== undefined) {
        await unlink(temp).catch(() => undefined);
        throw fail(failure);
      }
      try {
        await rename(temp, path);
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw fail(err);
      }
    },
    discard() {
      discarding ??= (async () => {
        stream.destroy();
        await finished;
        await unlink(temp).catch(() => undefined);
      })();
      return discarding;
    },
  };
}
