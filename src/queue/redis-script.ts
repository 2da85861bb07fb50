/**
 * Redis scripts kept as files, as BullMQ keeps its own: `<name>-<numKeys>.lua`, each with a header
 * naming its KEYS and ARGV. Arguments go by name, in one cjson-encoded table in ARGV[1]; every script
 * answers with one cjson-encoded object, which its caller decodes strictly (`decodeReply`): a missing
 * or mistyped field is an error, never a default.
 *
 * The files ship with the package (they are not compiled), so they are read from the package root,
 * the same from `src/` (tests), `dist/` and an installed copy. `--- @include "includes/<name>"` pulls in
 * a shared part, as in BullMQ's scripts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import type { z } from 'zod';
import { packageRoot } from '../package-root.js';

/** A connection to a single Redis server or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export interface RedisScript {
  /** The file's name without `-<numKeys>.lua`, for messages. */
  readonly name: string;
  readonly numKeys: number;
  readonly lua: string;
  readonly sha: string;
}

/** A script's reply that does not have the shape its caller expects (a script and its caller out of step). */
export class ScriptReplyError extends Error {
  override readonly name = 'ScriptReplyError';
}

const INCLUDE = /^--- @include "([\w/-]+)"\s*$/gm;

const loaded = new Map<string, RedisScript>();

/** Reads `<dir>/<file>` (`dir` a path from the package root) with its includes, once per process. */
export function loadScript(dir: string, file: string): RedisScript {
  const path = join(dir, file);
  let script = loaded.get(path);
  if (script === undefined) loaded.set(path, (script = readScript(dir, file)));
  return script;
}

function readScript(dir: string, file: string): RedisScript {
  const match = /^(.+)-(\d+)\.lua$/.exec(file);
  if (!match) throw new Error(`${file}: a script file is named <name>-<numKeys>.lua`);
  const folder = join(packageRoot(), dir);
  const lua = readFileSync(join(folder, file), 'utf8').replace(INCLUDE, (_, name: string) =>
    readFileSync(join(folder, `${name}.lua`), 'utf8'),
  );
  return {
    name: basename(match[1]!),
    numKeys: Number(match[2]),
    lua,
    sha: createHash('sha1').update(lua).digest('hex'),
  };
}

/**
 * Runs a script (EVALSHA, then EVAL the first time the server does not know it) with its keys and its
 * named arguments, and decodes its reply with `reply`. The keys must be as many as the file's name says.
 */
export async function runScript<T>(
  redis: RedisClient,
  script: RedisScript,
  keys: readonly string[],
  args: Record<string, unknown>,
  reply: z.ZodType<T>,
): Promise<T> {
  if (keys.length !== script.numKeys) {
    throw new Error(`${script.name}: takes ${script.numKeys} keys, got ${keys.length}`);
  }
  const argv = JSON.stringify(args);
  let raw: unknown;
  try {
    raw = await redis.evalsha(script.sha, script.numKeys, ...keys, argv);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
    raw = await redis.eval(script.lua, script.numKeys, ...keys, argv);
  }
  return decodeReply(script.name, raw, reply);
}

/** Decodes a script's cjson reply: the shape `reply` describes, or `ScriptReplyError` naming what is wrong. */
export function decodeReply<T>(name: string, raw: unknown, reply: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(String(raw));
  } catch {
    throw new ScriptReplyError(`${name}: the script's reply is not JSON`);
  }
  const parsed = reply.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ScriptReplyError(
      `${name}: unexpected reply at ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
