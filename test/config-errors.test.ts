/**
 * Bad values name what to fix and exit 2 (or 1 for a service that is down) through the built CLI:
 * Redis database indexes, numeric flags out of range, and PostgreSQL logins, databases and hosts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { assertBuilt, BIN } from './helpers/processes.js';
import type { TestDatabase } from './helpers/services.js';
import { createTestDatabase, redisUrl } from './helpers/services.js';

let db: TestDatabase;

beforeAll(async () => {
  assertBuilt();
  db = await createTestDatabase({ migrated: true });
  const pool = createPool(db.url, createLogger({ level: 'silent' }));
  await migrate(pool, createLogger({ level: 'silent' }));
  await pool.end();
});

afterAll(async () => {
  await db.drop();
});

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, REDIS_URL: redisUrl(), LOG_LEVEL: 'silent', ...env },
    });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

function withPath(url: string, path: string): string {
  const u = new URL(url);
  u.pathname = path;
  return u.toString();
}

describe('bad configuration', () => {
  it('a Redis database index this Redis does not have, or that is not a number, names REDIS_URL (exit 2)', async () => {
    for (const path of ['/99', '/abc']) {
      const r = await cli(['status'], { REDIS_URL: withPath(redisUrl(), path) });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('REDIS_URL');
    }
  });

  it('numbers out of range are refused with exit 2', async () => {
    for (const args of [
      ['status', '--run', '1e30'],
      ['status', '--limit', '0'],
      ['worker', '--concurrency', '1e30'],
      ['worker', '--grace', '2h'],
      ['import', 'x.csv', '--space', 'S1', '--max-age', '1000000w'],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).not.toContain('unexpected failure');
    }
    const r = await cli(['status'], { CAMS_ATTEMPTS: '1e30' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CAMS_ATTEMPTS');
  });

  it('an unknown role or a missing database names DATABASE_URL with the fix (exit 2); an unreachable host exit 1', async () => {
    const role = new URL(db.url);
    role.username = 'no_such_role_cams';
    let r = await cli(['status'], { DATABASE_URL: role.toString() });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_URL.*role that exists/);

    r = await cli(['status'], { DATABASE_URL: withPath(db.url, '/no_such_database_cams') });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_URL.*createdb/);

    const host = new URL(db.url);
    host.hostname = 'no-such-host.invalid';
    r = await cli(['status'], { DATABASE_URL: host.toString() });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('set DATABASE_URL');
  });
});
