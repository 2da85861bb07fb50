/**
 * Least privilege, shared by the roles tests of each queue store: the two roles of docs/production.md
 * (granted with its own SQL), `migrate` by the owner, and what a role with data privileges only does.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { expect } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import { createPool } from '../../src/db/pool.js';
import { createPostgresRateState } from '../../src/queue/postgres-rate-state.js';
import { claimQuota, DEFAULT_TUNING } from '../../src/queue/rate-controller.js';
import { tuningArgs } from '../../src/queue/rate-state.js';
import { runStatus } from '../../src/runs/status.js';
import type { Pipeline } from './pipeline.js';
import { startPipeline } from './pipeline.js';
import { killAll, pipelineEnv, startCli, startWorkerProcess, waitFor } from './processes.js';
import type { TestDatabase } from './services.js';
import { adminDatabaseUrl, createTestDatabase } from './services.js';

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

export function urlAs(databaseUrl: string, role: string): string {
  const u = new URL(databaseUrl);
  u.username = role;
  u.password = '';
  return u.toString();
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv) {
  const cli = startCli(args, env);
  const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

export interface RolesFixture {
  /** The test's pipeline (the simulator, the environment of its processes), closed by `cleanup`. */
  pipeline: Pipeline | undefined;
  /** A database of the test's own with the two roles of docs/production.md, made by its superuser block. */
  setUp(pipeline: Pipeline): Promise<{
    db: TestDatabase;
    admin: Pool;
    suffix: string;
    owner: string;
    worker: string;
    grants: string;
  }>;
  /** After each test: its processes, pipeline, database and roles. */
  cleanup(): Promise<void>;
}

export function rolesFixture(): RolesFixture {
  let db: TestDatabase | undefined;
  let admin: Pool | undefined;
  let roles: string[] = [];
  const fx: RolesFixture = {
    pipeline: undefined,
    async setUp(pipeline) {
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
    },
    async cleanup() {
      await killAll();
      await fx.pipeline?.close();
      fx.pipeline = undefined;
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
    },
  };
  return fx;
}

/** Runs the owner's part of the grants (after its `migrate`), then `extra`, as the owner. */
export async function grantAsOwner(databaseUrl: string, owner: string, grants: string, extra?: string) {
  const ownerClient = new pg.Client({ connectionString: urlAs(databaseUrl, owner) });
  await ownerClient.connect();
  try {
    await ownerClient.query(grants);
    if (extra) await ownerClient.query(extra);
  } finally {
    await ownerClient.end();
  }
}

/**
 * `migrate` as the owner, then a worker and an import as a role with data privileges only: every number
 * enriched once, and the admin's actions recorded in the audit log, which the role may not change.
 */
export async function enrichedByWorkersRole(
  fx: RolesFixture,
  queueStore: 'redis' | 'postgres',
): Promise<void> {
  const p = (fx.pipeline = await startPipeline({ rate: 50, queueStore }));
  const { db, admin, suffix, owner, worker, grants } = await fx.setUp(p);
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
}

/** A role with data privileges only, on a ledger whose schema is behind: exit 2, saying to run migrate. */
export async function refusedOnLedgerBehind(
  fx: RolesFixture,
  queueStore: 'redis' | 'postgres',
): Promise<void> {
  const p = (fx.pipeline = await startPipeline({ queueStore }));
  const { db, admin, owner, worker, grants } = await fx.setUp(p);
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
}
