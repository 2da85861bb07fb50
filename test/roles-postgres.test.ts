/**
 * Least privilege with the queue on PostgreSQL (REDIS_URL unset): the owner's `migrate` applies
 * BullMQ's migrations of its schema `bullmq` (which the owner owns, with nothing on the database), and
 * the workers' role, with the data privileges of docs/production.md, only checks it: a worker and an
 * import enrich every number once; a BullMQ schema behind is refused, not migrated, by that role.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, pipelineEnv } from './helpers/processes.js';
import {
  enrichedByWorkersRole,
  grantAsOwner,
  refusedOnLedgerBehind,
  rolesFixture,
  runCli,
  urlAs,
} from './helpers/roles.js';

const fx = rolesFixture();

beforeAll(assertBuilt);
afterEach(() => fx.cleanup());

describe('least-privilege roles, the queue on PostgreSQL', () => {
  it(
    'migrate as the owner, then a worker and an import as a role with data privileges only: every number enriched once',
    () => enrichedByWorkersRole(fx, 'postgres'),
    180_000,
  );

  it(
    'a role with data privileges only, on a schema that is behind: exit 2, saying to run migrate',
    () => refusedOnLedgerBehind(fx, 'postgres'),
    120_000,
  );
});

describe("least-privilege roles, BullMQ's schema", () => {
  it("behind this BullMQ, with the queue on PostgreSQL: the workers' role exits 2 saying to run migrate as the owner, and changes nothing", async () => {
    const p = (fx.pipeline = await startPipeline({ queueStore: 'postgres' }));
    const { db, admin, owner, worker, grants } = await fx.setUp(p);
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
