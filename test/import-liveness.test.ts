/**
 * Importer liveness: a run whose importer is gone (kill -9) is aborted by the workers with its
 * accounting exact, a live importer's run never is, and the first Ctrl-C of an importer aborts its run.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { abortAbandonedImports, createLiveRun } from '../src/db/import-liveness.js';
import { getRun } from '../src/db/runs.js';
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
import { runStatus } from '../src/runs/status.js';

let p: Pipeline | undefined;

beforeAll(assertBuilt);

afterEach(async () => {
  await killAll();
  await p?.close();
  p = undefined;
});

function bigCsv(rows: number): string {
  const lines = ['phone'];
  for (let i = 0; i < rows; i++) lines.push(`+4479${String(10_000_000 + i).slice(-8)}`);
  return lines.join('\n') + '\n';
}

describe('importer liveness', () => {
  it('never aborts the run of a live importer, and aborts it once the importer is gone', async () => {
    p = await startPipeline();
    const live = await createLiveRun(p.pool, { queue: p.queueName, source: 'test', maxAgeMs: 0 });
    // Old enough to be judged.
    await p.pool.query(`UPDATE runs SET created_at = now() - interval '1 minute' WHERE id = $1`, [
      live.runId,
    ]);
    expect(await abortAbandonedImports(p.pool, p.log)).toEqual([]);
    expect((await getRun(p.pool, live.runId))?.state).toBe('importing');
    await live.release();
    expect(await abortAbandonedImports(p.pool, p.log)).toEqual([live.runId]);
    expect((await getRun(p.pool, live.runId))?.state).toBe('aborted');
  });

  it('a killed importer: the workers abort its run with exact accounting; importing the file again counts every row', async () => {
    p = await startPipeline();
    const rows = 100_000;
    const file = await p.csv('big.csv', bigCsv(rows));
    startWorkerProcess(p);
    const importer = startCli(['import', file, '--space', 'S1'], pipelineEnv(p));
    const pipeline = p;
    const runId = await waitFor('the import to be part-way', 60_000, async () => {
      const { rows: r } = await pipeline.pool.query<{ id: string; total: string }>(
        `SELECT id, total FROM runs WHERE state = 'importing' ORDER BY id DESC LIMIT 1`,
      );
      return r[0] && Number(r[0].total) >= rows * 0.2 ? Number(r[0].id) : undefined;
    });
    importer.child.kill('SIGKILL');
    await importer.exited;

    // Workers look every 15 s at runs older than 10 s.
    const s = await waitFor('the run to leave importing', 60_000, async () => {
      const st = await runStatus(pipeline.pool, runId);
      return st.state === 'importing' ? undefined : st;
    });
    expect(s.state).toBe('aborted');
    expect(s.total).toBeGreaterThan(0);
    expect(s.total).toBeLessThan(rows);
    expect(s.pending).toBe(0);
    const { rows: aborted } = await p.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM run_items WHERE run_id = $1 AND error_code = 'IMPORT_ABORTED'`,
      [runId],
    );
    expect(Number(aborted[0]!.n)).toBe(s.failed);

    const again = startCli(['import', file, '--space', 'S1', '--json'], pipelineEnv(p));
    const exit = await again.exited;
    expect(exit.code, again.stderr()).toBe(0);
    const second = JSON.parse(again.stdout()) as { run: number; total: number };
    expect(second.run).not.toBe(runId);
    expect(second.total).toBe(rows);
  }, 180_000);

  it('the first Ctrl-C of an importer aborts its run and exits 1', async () => {
    p = await startPipeline();
    const rows = 100_000;
    const file = await p.csv('big.csv', bigCsv(rows));
    const importer = startCli(['import', file, '--space', 'S1'], pipelineEnv(p));
    const pipeline = p;
    const runId = await waitFor('the import to be under way', 60_000, async () => {
      const { rows: r } = await pipeline.pool.query<{ id: string; total: string }>(
        `SELECT id, total FROM runs WHERE state = 'importing' AND total > 0 ORDER BY id DESC LIMIT 1`,
      );
      return r[0] ? Number(r[0].id) : undefined;
    });
    importer.child.kill('SIGINT');
    const exit = await importer.exited;
    expect(exit.code, importer.stderr()).toBe(1);
    expect(importer.stderr()).toContain(`run ${runId} aborted`);
    const s = await runStatus(p.pool, runId);
    expect(s.state).toBe('aborted');
    expect(s.pending).toBe(0);
    expect(s.total).toBeGreaterThan(0);
  }, 120_000);
});
