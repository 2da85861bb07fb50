/**
 * Least privilege: `migrate` by the schema's owner (owner of the ledger's schema and of BullMQ's,
 * CREATE on public, nothing on the database), then a worker and an import by a role with data
 * privileges only, granted with the statements of docs/production.md: with the queue in Redis, and
 * with the queue on PostgreSQL (REDIS_URL unset: BullMQ's schema migrated by the owner's `migrate`,
 * only checked by the workers' role).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../src/runs/status.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import {
  assertBuilt,
  killAll,
  pipelineEnv,
  startCli,
  startWorkerProcess,
  waitFor,
} from './helpers/processes.js';
import type { TestDatabase } from './helpers/services.js';
import { adminDatabaseUrl, createTestDatabase } from './helpers/services.js';
import { createPool } from '../src/db/pool.js';
import { createPostgresRateState } from '../src/queue/postgres-rate-state.js';
import { claimQuota, DEFAULT_TUNING } from '../src/queue/rate-controller.js';
import { tuningArgs } from '../src/queue/rate-state.js';
import type { Pool } from '../src/db/pool.js';

let p: Pipeline | undefined;
let db: TestDatabase | undefined;
let admin: Pool | undefined;
let roles: string[] = [];

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
  await admin?.end();
  admin = undefined;
  await db?.drop();
  db = undefined;
  // Roles belong to the server, not the database: dropped once their database is gone.
  const server = new pg.Client({ connectionString: adminDatabaseUrl() });
  await server.connect();
  try {
    for (const role of roles.splice(0)) await server.query(`DROP ROLE IF EXISTS ${role}`);
  } finally {
    await server.end();
  }
});

/** The SQL for the two roles in docs/production.md: what the superuser runs, and what the owner runs after migrate. */
async function documentedGrants(owner: string, worker: string): Promise<{ setup: string; grants: string }> {
  const doc = await readFile('docs/production.md', 'utf8');
  const block = /```sql\n(-- as a superuser[\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/production.md has no SQL block for the roles');
  const sql = block
    .replace(/cams_owner/g, owner)
    .replace(/cams_worker/g, worker)
    .replace(/PASSWORD '…'/g, '');
  const [setup, grants] = sql.split(/^-- then, as .*$/m);
  return { setup: setup!, grants: grants! };
}

function urlAs(databaseUrl: string, role: string): string {
  const u = new URL(databaseUrl);
  u.username = role;
  u.password = '';
  return u.toString();
}

async function runCli(args: string[], env: NodeJS.ProcessEnv) {
  const cli = startCli(args, env);
  const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** The test's database with the two roles of docs/production.md, made by its superuser block. */
async function setUpRoles(pipeline: Pipeline) {
  db = await createTestDatabase();
  const suffix = randomBytes(4).toString('hex');
  const owner = `cams_owner_${suffix}`;
  const worker = `cams_worker_${suffix}`;
  roles = [worker, owner];
  admin = createPool(db.url, pipeline.log, { max: 2 });
  const { setup, grants } = await documentedGrants(owner, worker);
  const client = await admin.connect();
  try {
    await client.query(setup);
  } finally {
    client.release();
  }
  return { db, admin, suffix, owner, worker, grants };
}

/** Runs the owner's part of the grants (after its `migrate`), then `extra`, as the owner. */
async function grantAsOwner(databaseUrl: string, owner: string, grants: string, extra?: string) {
  const ownerClient = new pg.Client({ connectionString: urlAs(databaseUrl, owner) });
  await ownerClient.connect();
  try {
    await ownerClient.query(grants);
    if (extra) await ownerClient.query(extra);
  } finally {
    await ownerClient.end();
  }
}

describe.each([
  { queueStore: 'redis' as const, where: 'in Redis' },
  { queueStore: 'postgres' as const, where: 'on PostgreSQL' },
])('least-privilege roles, the queue $where', ({ queueStore }) => {
  it('migrate as the owner, then a worker and an import as a role with data privileges only: every number enriched once', async () => {
    p = await startPipeline({ rate: 50, queueStore });
    const { db, admin, suffix, owner, worker, grants } = await setUpRoles(p);
    // Nothing on the database beyond what every role has.
    const { rows: onDatabase } = await admin.query<{ create: boolean }>(
      `SELECT has_database_privilege($1, current_database(), 'CREATE') AS create`,
      [owner],
    );
    expect(onDatabase[0]?.create).toBe(false);

    const ownerEnv = pipelineEnv(p, { DATABASE_URL: urlAs(db.url, owner) });
    const migrated = await runCli(['migrate'], ownerEnv);
    expect(migrated.code, migrated.stderr).toBe(0);
    const again = await runCli(['migrate'], ownerEnv);
    expect(again.code, again.stderr).toBe(0);
    // BullMQ's schema: migrated by the owner's migrate with the queue on PostgreSQL, untouched with Redis.
    const { rows: bull } = await admin.query<{ owner: string | null; migrated: boolean }>(
      `SELECT (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'bullmq') AS owner,
              to_regclass('bullmq.migration') IS NOT NULL AS migrated`,
    );
    expect(bull[0]).toEqual({ owner, migrated: queueStore === 'postgres' });
    if (queueStore === 'postgres') expect(again.stdout).toMatch(/the queue's schema bullmq: up to date/);
    await grantAsOwner(db.url, owner, grants);

    // The rate controller's PostgreSQL state under the workers' role: its tables and functions are covered.
    const asWorker = createPool(urlAs(db.url, worker), p.log, { max: 1 });
    try {
      const state = createPostgresRateState(asWorker, `roles-${suffix}`);
      expect((await claimQuota(state, 10)).outcome).toBe('stored');
      const [slot] = await state.take({ quota: 10, tuning: tuningArgs(DEFAULT_TUNING) }, [`slot-${suffix}`]);
      expect(slot?.granted).toBe(true);
      await state.forget();
    } finally {
      await asWorker.end();
    }

    const workerEnv = pipelineEnv(p, { DATABASE_URL: urlAs(db.url, worker), CAMS_RATE_LIMIT: '50' });
    const workers = [
      startWorkerProcess(p, { rate: 50, env: { DATABASE_URL: workerEnv.DATABASE_URL } }),
      startWorkerProcess(p, { rate: 50, env: { DATABASE_URL: workerEnv.DATABASE_URL } }),
    ];
    const phones = Array.from({ length: 300 }, (_, i) => `86137${String(20_000_000 + i).slice(-8)}`);
    const file = await p.csv('numbers.csv', ['phone', ...phones].join('\n') + '\n');
    const imported = await runCli(['import', file, '--space', 'S1', '--json'], workerEnv);
    expect(imported.code, imported.stderr).toBe(0);
    const runId = (JSON.parse(imported.stdout) as { run: number }).run;
    const pool = admin;
    const done = await waitFor('the run to finish', 90_000, async () => {
      const s = await runStatus(pool, runId);
      return s.finished ? s : undefined;
    });
    expect([done.total, done.enriched, done.failed]).toEqual([300, 300, 0]);
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
    const byNumber = p.sim.counters().okByNumber;
    expect(Object.keys(byNumber).sort()).toEqual([...phones].sort());
    expect(Object.values(byNumber).every((n) => n === 1)).toBe(true);

    // The admin's actions are recorded by this role too; the audit log is added to, never changed.
    for (const args of [['pause', '--reason', 'roles'], ['resume'], ['priority', String(runId), 'low']]) {
      const acted = await runCli(args, workerEnv);
      expect(acted.code, acted.stderr).toBe(0);
    }
    const { rows: audit } = await pool.query<{ action: string }>(
      'SELECT action FROM cams_enrich.audit_log ORDER BY id',
    );
    expect(audit.map((r) => r.action)).toEqual(['pause', 'resume', 'priority']);
    const { rows: rights } = await pool.query<{
      insert: boolean;
      select: boolean;
      update: boolean;
      delete: boolean;
    }>(
      `SELECT has_table_privilege($1, 'cams_enrich.audit_log', 'INSERT') AS insert,
              has_table_privilege($1, 'cams_enrich.audit_log', 'SELECT') AS select,
              has_table_privilege($1, 'cams_enrich.audit_log', 'UPDATE') AS update,
              has_table_privilege($1, 'cams_enrich.audit_log', 'DELETE') AS delete`,
      [worker],
    );
    expect(rights[0]).toEqual({ insert: true, select: true, update: false, delete: false });
  }, 180_000);

  it('a role with data privileges only, on a schema that is behind: exit 2, saying to run migrate', async () => {
    p = await startPipeline({ queueStore });
    const { db, admin, owner, worker, grants } = await setUpRoles(p);
    expect((await runCli(['migrate'], pipelineEnv(p, { DATABASE_URL: urlAs(db.url, owner) }))).code).toBe(0);
    // As if this version brought a migration the database has not had yet.
    await grantAsOwner(db.url, owner, grants, 'DELETE FROM cams_enrich.cams_enrich_migrations WHERE id = 1');
    const file = await p.csv('numbers.csv', 'phone\n8613720000001\n');
    const refused = await runCli(
      ['import', file, '--space', 'S1'],
      pipelineEnv(p, { DATABASE_URL: urlAs(db.url, worker) }),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('run "cams-enrich migrate" as the owner');
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM cams_enrich.runs');
    expect(rows[0]?.n).toBe(0);
  }, 120_000);
});

describe("least-privilege roles, BullMQ's schema", () => {
  it("behind this BullMQ, with the queue on PostgreSQL: the workers' role exits 2 saying to run migrate as the owner, and changes nothing", async () => {
    p = await startPipeline({ queueStore: 'postgres' });
    const { db, admin, owner, worker, grants } = await setUpRoles(p);
    const ownerEnv = pipelineEnv(p, { DATABASE_URL: urlAs(db.url, owner) });
    expect((await runCli(['migrate'], ownerEnv)).code).toBe(0);
    await grantAsOwner(db.url, owner, grants);
    // As if this version of BullMQ brought a migration of its schema the database has not had yet.
    const { rows: taken } = await admin.query<{ version: number; name: string; min_client_version: number }>(
      `DELETE FROM bullmq.migration WHERE version = (SELECT max(version) FROM bullmq.migration)
       RETURNING version, name, min_client_version`,
    );
    const latest = taken[0]!;
    const workerEnv = pipelineEnv(p, { DATABASE_URL: urlAs(db.url, worker), CAMS_RATE_LIMIT: '10' });
    const file = await p.csv('numbers.csv', 'phone\n8613720000001\n');
    for (const args of [
      ['import', file, '--space', 'S1'],
      ['worker', '--concurrency', '1'],
    ]) {
      const refused = await runCli(args, workerEnv);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(`the queue's schema "bullmq"`);
      expect(refused.stderr).toContain(`is at version ${latest.version - 1} of ${latest.version}`);
      expect(refused.stderr).toContain('run "cams-enrich migrate" as the owner');
    }
    const { rows: after } = await admin.query<{ runs: number; version: number }>(
      `SELECT (SELECT count(*)::int FROM cams_enrich.runs) AS runs,
              (SELECT max(version) FROM bullmq.migration) AS version`,
    );
    expect(after[0]).toEqual({ runs: 0, version: latest.version - 1 });

    // Brought back to the version this BullMQ knows, the same role's import goes through.
    await admin.query(
      'INSERT INTO bullmq.migration (version, name, min_client_version) VALUES ($1, $2, $3)',
      [latest.version, latest.name, latest.min_client_version],
    );
    const imported = await runCli(['import', file, '--space', 'S1'], workerEnv);
    expect(imported.code, imported.stderr).toBe(0);
  }, 120_000);
});
