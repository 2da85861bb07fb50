/**
 * Reading a source stops when told, also while the source keeps a read waiting: a database that stopped
 * answering mid-stream, one that accepts the connection and never answers, a piped standard input
 * that stalls. The source connection is closed, the run aborted with every row read counted, and a
 * source cut mid-stream ends the run the same way, naming the lost connection.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { importFromDatabase } from '../src/runs/db-import.js';
import type { RunStatus } from '../src/runs/status.js';
import { runStatus } from '../src/runs/status.js';
import type { PgProxy } from './helpers/pg-proxy.js';
import { startPgProxy } from './helpers/pg-proxy.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';
import { assertBuilt, killAll, pipelineEnv, startCli, waitFor } from './helpers/processes.js';
import { redisUrl } from './helpers/services.js';

const MONTH = 30 * 24 * 3600 * 1000;
const ROWS = 6000;
let p: Pipeline;
const proxies: PgProxy[] = [];
const servers: SilentServer[] = [];

beforeAll(async () => {
  assertBuilt();
  p = await startPipeline();
  await p.pool.query(`CREATE TABLE public.contacts (id serial PRIMARY KEY, phone text)`);
  await p.pool.query(
    `INSERT INTO public.contacts (phone) SELECT '86138' || lpad((10000000 + g)::text, 8, '0') FROM generate_series(1, $1) g`,
    [ROWS],
  );
}, 60_000);

afterEach(async () => {
  await killAll();
  for (const proxy of proxies.splice(0)) await proxy.close();
  for (const server of servers.splice(0)) await server.close();
});

afterAll(async () => {
  await p?.close();
});

/** A TCP server on loopback that accepts connections and never answers. */
interface SilentServer {
  port: number;
  readonly accepted: number;
  readonly closed: number;
  close(): Promise<void>;
}

async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closed = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Read (and drop) what the client sends, so its hang-up is seen.
    socket.resume();
    socket.on('close', () => {
      closed += 1;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const silent: SilentServer = {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get closed() {
      return closed;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(silent);
  return silent;
}

async function proxy(holdAtExecute: number): Promise<PgProxy> {
  const started = await startPgProxy(p.db.url, { holdAtExecute });
  proxies.push(started);
  return started;
}

/** The newest run of this file's queue made after `after`, once `total` rows are recorded in it. */
function runWithTotal(after: number, total: number): Promise<RunStatus> {
  return waitFor(`a run with ${total} rows recorded`, 60_000, async () => {
    const { rows } = await p.pool.query<{ id: string }>(
      'SELECT id FROM runs WHERE queue = $1 AND id > $2 ORDER BY id DESC LIMIT 1',
      [p.queueName, after],
    );
    if (rows[0] === undefined) return undefined;
    const s = await runStatus(p.pool, Number(rows[0].id));
    return s.total === total ? s : undefined;
  });
}

async function lastRunId(): Promise<number> {
  const { rows } = await p.pool.query<{ id: string | null }>('SELECT max(id) AS id FROM runs');
  return Number(rows[0]?.id ?? 0);
}

/** Sessions of the source reader on the server (through the proxy or not). */
async function sourceSessions(): Promise<number> {
  const { rows } = await p.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'cams-enrich-source' AND datname = current_database()`,
  );
  return Number(rows[0]!.n);
}

function expectAbortedWithAll(s: RunStatus, total: number): void {
  expect(s).toMatchObject({ state: 'aborted', total, failed: total, pending: 0, finished: true });
}

describe('a database source, in process', () => {
  const spec = { table: 'contacts', phoneColumn: 'phone' };

  it('stops at once while the source keeps a read waiting: connection closed, run aborted, rows counted', async () => {
    const before = await lastRunId();
    const held = await proxy(2);
    const stop = new AbortController();
    const importing = importFromDatabase(p.pool, p.log, {
      queue: p.queueName,
      sourceUrl: held.url,
      spec,
      space: 'S1',
      maxAgeMs: MONTH,
      batchSize: 1000,
      signal: stop.signal,
    });
    importing.catch(() => undefined);
    const run = await runWithTotal(before, 1000);
    expect(held.held).toBe(1);
    stop.abort();
    await expect(importing).rejects.toMatchObject({
      code: 'INTERRUPTED',
      message: `interrupted: run ${run.run} aborted, the rows it had read are counted`,
    });
    expectAbortedWithAll(await runStatus(p.pool, run.run), 1000);
    await waitFor('the source session to end', 10_000, async () => (await sourceSessions()) === 0);
  });

  it('ends the run aborted, naming the lost connection, when the source is cut mid-stream', async () => {
    const before = await lastRunId();
    const held = await proxy(2);
    const importing = importFromDatabase(p.pool, p.log, {
      queue: p.queueName,
      sourceUrl: held.url,
      spec,
      space: 'S1',
      maxAgeMs: MONTH,
      batchSize: 1000,
    });
    importing.catch(() => undefined);
    const run = await runWithTotal(before, 1000);
    void held.cut(60_000);
    await expect(importing).rejects.toMatchObject({
      code: 'SOURCE_LOST',
      exitCode: 1,
      message: expect.stringMatching(
        new RegExp(
          `^--source-url: the connection to the source database was lost \\(.+\\): run ${run.run} aborted, the rows it had read are counted$`,
        ),
      ),
    });
    expectAbortedWithAll(await runStatus(p.pool, run.run), 1000);
  });

  it('gives up on a source that accepts the connection and never answers, and creates no run', async () => {
    const before = await lastRunId();
    const silent = await startSilentServer();
    await expect(
      importFromDatabase(p.pool, p.log, {
        queue: p.queueName,
        sourceUrl: `postgres://postgres@127.0.0.1:${silent.port}/crm`,
        spec,
        space: 'S1',
        maxAgeMs: MONTH,
        connectTimeoutMs: 300,
      }),
    ).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      exitCode: 1,
      message: expect.stringContaining('did not answer as PostgreSQL within 0.3 s'),
    });
    expect(silent.accepted).toBe(1);
    await waitFor('the connection to be closed', 10_000, () => silent.closed === 1);
    expect(await lastRunId()).toBe(before);
  });

  it('stops while connecting when told, and creates no run', async () => {
    const before = await lastRunId();
    const silent = await startSilentServer();
    const stop = new AbortController();
    const importing = importFromDatabase(p.pool, p.log, {
      queue: p.queueName,
      sourceUrl: `postgres://postgres@127.0.0.1:${silent.port}/crm`,
      spec,
      space: 'S1',
      maxAgeMs: MONTH,
      signal: stop.signal,
    });
    importing.catch(() => undefined);
    await waitFor('the connection', 10_000, () => silent.accepted === 1);
    stop.abort();
    await expect(importing).rejects.toMatchObject({
      code: 'INTERRUPTED',
      message: 'interrupted while connecting to the source database: no run was created',
    });
    await waitFor('the connection to be closed', 10_000, () => silent.closed === 1);
    expect(await lastRunId()).toBe(before);
  });
});

describe('commands that read a source, as processes', () => {
  const enqueue = (url: string) => [
    'enqueue-db',
    '--source-url',
    url,
    '--table',
    'contacts',
    '--phone-column',
    'phone',
    '--space',
    'S1',
  ];

  it('enqueue-db stops on the first SIGTERM while its source keeps a read waiting', async () => {
    const before = await lastRunId();
    const held = await proxy(6);
    const cli = startCli(enqueue(held.url), pipelineEnv(p));
    const run = await runWithTotal(before, 5000);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr()).toContain(`interrupted: run ${run.run} aborted, the rows it had read are counted`);
    expect(cli.stdout()).toBe('');
    expectAbortedWithAll(await runStatus(p.pool, run.run), 5000);
    await waitFor('the source session to end', 10_000, async () => (await sourceSessions()) === 0);
  }, 90_000);

  it('enqueue-db whose source is cut mid-stream exits 1 naming the lost connection, its run aborted', async () => {
    const before = await lastRunId();
    const held = await proxy(6);
    const cli = startCli(enqueue(held.url), pipelineEnv(p));
    const run = await runWithTotal(before, 5000);
    void held.cut(60_000);
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr()).toMatch(
      new RegExp(
        `--source-url: the connection to the source database was lost \\(.+\\): run ${run.run} aborted, the rows it had read are counted`,
      ),
    );
    expectAbortedWithAll(await runStatus(p.pool, run.run), 5000);
  }, 90_000);

  it('enqueue-db stops on SIGINT while its source has not answered the connection, with no run', async () => {
    const before = await lastRunId();
    const silent = await startSilentServer();
    const cli = startCli(enqueue(`postgres://postgres@127.0.0.1:${silent.port}/crm`), pipelineEnv(p));
    await waitFor('the connection', 30_000, () => silent.accepted === 1);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr()).toContain('interrupted while connecting to the source database: no run was created');
    expect(await lastRunId()).toBe(before);
  }, 60_000);

  it('import whose Redis is lost before its run is fed names the run and resume, exit 1, the run kept', async () => {
    const redisProxy = await startPgProxy(redisUrl());
    proxies.push(redisProxy);
    const before = await lastRunId();
    const cli = startCli(
      ['import', '-', '--space', 'S1'],
      pipelineEnv(p, { REDIS_URL: redisProxy.url }),
      'pipe',
    );
    const rows = Array.from({ length: 5001 }, (_, i) => `86137${String(10_000_000 + i).slice(-8)}`);
    cli.child.stdin!.write(`phone\n${rows.join('\n')}\n`);
    const run = await runWithTotal(before, 5000);
    // Redis goes away while the rows are being recorded; the input then ends and the run is to be fed.
    void redisProxy.cut(60_000);
    cli.child.stdin!.end();
    expect((await cli.exited).code, cli.stderr()).toBe(1);
    expect(cli.stderr()).toContain(`run ${run.run} is recorded`);
    expect(cli.stderr()).toContain('cams-enrich resume');
    const s = await runStatus(p.pool, run.run);
    expect(s).toMatchObject({ state: 'ready', total: 5001, pending: 5001 });
  }, 60_000);

  it('import - stops on the first Ctrl-C while the piped input stalls, every row read counted', async () => {
    const before = await lastRunId();
    const cli = startCli(['import', '-', '--space', 'S1'], pipelineEnv(p), 'pipe');
    // 5 000 rows make a batch, recorded (and seen here) before the input stalls; the parser holds the
    // last line back until it knows the line break is complete: it is counted too.
    const rows = Array.from({ length: 5001 }, (_, i) => `86139${String(10_000_000 + i).slice(-8)}`);
    cli.child.stdin!.write(`phone\n${rows.join('\n')}\n`);
    const run = await runWithTotal(before, 5000);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr()).toContain(`interrupted: run ${run.run} aborted, the rows it had read are counted`);
    expectAbortedWithAll(await runStatus(p.pool, run.run), 5001);
  }, 60_000);
});
