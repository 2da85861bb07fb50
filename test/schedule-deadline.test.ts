/**
 * A schedule whose source hangs holds back no other schedule: ticks of different schedules run at
 * once in a worker, and a tick has a deadline past which it is stopped (its source connection closed,
 * its run aborted with every row read counted) and recorded as failed with the reason.
 */
import { createRedisQueueStore } from '../src/queue/redis-queue-store.js';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { RedisClient } from '../src/queue/queue.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../src/queue/queue.js';
import { runStatus } from '../src/runs/status.js';
import type { ScheduleQueue } from '../src/schedules/schedules.js';
import {
  createScheduleQueue,
  listSchedules,
  scheduleQueueName,
  upsertSchedule,
} from '../src/schedules/schedules.js';
import { parseStoredCommand, runStoredCommand } from '../src/schedules/stored-command.js';
import type { TickJob } from '../src/schedules/tick.js';
import { runTick } from '../src/schedules/tick.js';
import { AppError } from '../src/errors.js';
import type { PgProxy } from './helpers/pg-proxy.js';
import { startPgProxy } from './helpers/pg-proxy.js';
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
import { deleteQueueKeys, redisUrl } from './helpers/services.js';

let p: Pipeline;
let connection: RedisClient;
let scheduleQueue: ScheduleQueue;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  assertBuilt();
  p = await startPipeline();
  connection = createRedis(redisUrl(), 'worker', p.log);
  scheduleQueue = createScheduleQueue(p.queueName, createRedisQueueStore(connection, redisUrl()));
  scheduleQueue.on('error', () => undefined);
  await p.pool.query(`CREATE TABLE public.contacts (id serial PRIMARY KEY, phone text)`);
  await p.pool.query(
    `INSERT INTO public.contacts (phone)
     SELECT '86138' || lpad((10000000 + g)::text, 8, '0') FROM generate_series(1, 3000) g`,
  );
}, 60_000);

afterEach(async () => {
  await killAll();
  for (const close of closers.splice(0)) await close();
});

afterAll(async () => {
  await scheduleQueue?.obliterate({ force: true }).catch(() => undefined);
  await scheduleQueue?.close();
  await connection?.quit();
  if (p) await deleteQueueKeys(p.redis, scheduleQueueName(p.queueName));
  await p?.close();
});

/** A TCP server on loopback that accepts connections, reads what they send and never answers. */
async function silentServer(): Promise<{ port: number; accepted: () => number; closed: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closed = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.resume();
    socket.on('close', () => {
      closed += 1;
      sockets.delete(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, accepted: () => accepted, closed: () => closed };
}

async function heldProxy(holdAtExecute: number): Promise<PgProxy> {
  const proxy = await startPgProxy(p.db.url, { holdAtExecute });
  closers.push(() => proxy.close());
  return proxy;
}

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

describe('a tick past its deadline', () => {
  it('is stopped, its source connection closed, and recorded as failed with the reason; the list shows it', async () => {
    const silent = await silentServer();
    const command = enqueue(`postgres://postgres@127.0.0.1:${silent.port}/crm`);
    await upsertSchedule(scheduleQueue, { name: 'hung', cron: '0 2 * * *', command, timeoutMs: 1000 });
    const job: TickJob = {
      id: 'repeat:hung:1000',
      data: { command, timeoutMs: 500 },
      timestamp: 1000,
      repeatJobKey: 'hung',
      opts: { prevMillis: 1000 },
    };
    const deps = {
      pool: p.pool,
      log: p.log,
      config: { databaseUrl: p.db.url, queueName: p.queueName },
      isActive: () => Promise.resolve(false),
    };
    // The silent server never answers the connection: only the deadline (500 ms) ends the tick.
    await expect(runTick(deps, job)).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      message: 'the tick overran its deadline of 500ms: no run was created',
    });
    expect(silent.accepted()).toBe(1);
    await waitFor('the source connection to be closed', 10_000, () => silent.closed() === 1);
    const [listed] = await listSchedules(scheduleQueue, p.pool, p.queueName);
    expect(listed).toMatchObject({
      name: 'hung',
      timeoutMs: 1000,
      lastTick: {
        outcome: 'failed',
        runId: null,
        message: 'the tick overran its deadline of 500ms: no run was created',
      },
    });
    await scheduleQueue.removeJobScheduler('hung');
  });

  it('aborts the run it was reading, every row read counted, when stopped mid-stream', async () => {
    const held = await heldProxy(2);
    const deadline = new AbortController();
    const running = runStoredCommand(
      { pool: p.pool, log: p.log, config: { databaseUrl: p.db.url, queueName: p.queueName } },
      parseStoredCommand(enqueue(held.url)),
      'schedule:mid-stream',
      deadline.signal,
    );
    running.catch(() => undefined);
    // The cursor's second batch is never answered: the first 1 000 rows are read, then the read waits.
    await waitFor('the source to stop answering', 30_000, () => held.held === 1);
    deadline.abort(new AppError('DEADLINE_EXCEEDED', 'the tick overran its deadline of 1s'));
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    const { runId, message } = err as AppError;
    expect(runId).toBeTypeOf('number');
    expect(message).toBe(
      `the tick overran its deadline of 1s: run ${runId} aborted, the rows it had read are counted`,
    );
    const s = await runStatus(p.pool, runId!);
    expect(s).toMatchObject({ source: 'schedule:mid-stream', state: 'aborted', pending: 0, finished: true });
    expect(s.total).toBeGreaterThan(0);
    expect(s.failed).toBe(s.total);
  });
});

describe('schedules in a worker process', () => {
  it('keep ticking while another schedule’s tick hangs on its source', async () => {
    const held = await heldProxy(1);
    const env = pipelineEnv(p);
    const add = async (args: string[]) => {
      const cli = startCli(['schedule', 'add', ...args], env);
      const [{ code }] = await Promise.all([cli.exited, once(cli.child, 'close')]);
      expect(code, cli.stderr()).toBe(0);
    };
    await add(['stuck', '--cron', '* * * * * *', '--', ...enqueue(held.url)]);
    await add(['steady', '--cron', '* * * * * *', '--', 'prune', '--older-than', '30d']);
    startWorkerProcess(p);

    // The stuck schedule's tick waits for rows that never come (its deadline is the default 10 minutes).
    await waitFor('the stuck tick to hang on its source', 60_000, () => held.held === 1);
    const stuck = await waitFor('the stuck tick', 10_000, async () => {
      const { rows } = await p.pool.query<{ tick_at: Date; job_id: string }>(
        `SELECT tick_at, job_id FROM schedule_ticks WHERE queue = $1 AND schedule = 'stuck' AND outcome = 'running'`,
        [p.queueName],
      );
      return rows[0];
    });
    // Meanwhile the other schedule ticks, again and again.
    await waitFor('the steady schedule to tick twice after the stuck tick began', 60_000, async () => {
      const { rows } = await p.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM schedule_ticks
         WHERE queue = $1 AND schedule = 'steady' AND outcome = 'done' AND tick_at > $2`,
        [p.queueName, stuck.tick_at],
      );
      return Number(rows[0]!.n) >= 2;
    });
    const { rows: still } = await p.pool.query<{ outcome: string }>(
      `SELECT outcome FROM schedule_ticks WHERE queue = $1 AND job_id = $2`,
      [p.queueName, stuck.job_id],
    );
    expect(still).toEqual([{ outcome: 'running' }]);

    const list = startCli(['schedule', 'list'], env);
    await Promise.all([list.exited, once(list.child, 'close')]);
    expect(list.stdout()).toMatch(/^steady: \* \* \* \* \* \* \(.+\), next \S+, deadline 10m$/m);
    expect(list.stdout()).toMatch(/^ {2}last tick \S+ done: pruned /m);
    expect(list.stdout()).toContain(`  runs: ${enqueue(held.url).join(' ')}`);
    await scheduleQueue.removeJobScheduler('stuck');
    await scheduleQueue.removeJobScheduler('steady');
  }, 120_000);
});
