/**
 * The dashboard's HTTP server (Hono on Node): Bull Board under `/queues` (the work queue and the
 * schedules' queue), the console's pages (`console-routes.ts`: runs, a run, schedules, fleet) over
 * their JSON API, the admin's actions and the schedules and audit reads (`actions-api.ts`), `/metrics`
 * for Prometheus, `/healthz` and `/readyz`. Every route
 * passes the access rules of `access.ts` first.
 */
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { configuredAccount } from '../cams/account.js';
import { Hono } from 'hono';
import type { QueueStore } from '../queue/queue-store.js';
import type { Config } from '../config.js';
import { withDeadline } from '../deadline.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import { maskPhone } from '../mask.js';
import type { EnrichQueue } from '../queue/queue.js';
import { createScheduleQueue } from '../schedules/schedules.js';
import { accessControl, authorized } from './access.js';
import { addActionsApi } from './actions-api.js';
import { addDownloads } from './downloads.js';
import { createCallRateHistory } from './call-rate.js';
import { createDashboardMetrics, metricValue } from './metrics.js';
import { createFleetHistory } from './fleet-history.js';
import { processCalls } from './fleet-view.js';
import { METRIC } from '../metrics/worker-metrics.js';
import { addConsole } from './console-routes.js';

export interface DashboardDeps {
  config: Config;
  pool: Pool;
  /** The queue's store, a producer's (fails fast while its server is away). */
  store: QueueStore;
  queue: EnrichQueue;
  log: Logger;
  /** How often the fleet's call counter is sampled for the chart, in ms. Default 2000. */
  sampleMs?: number;
  /** Longest wait for PostgreSQL or Redis in `/readyz`, in ms. Default 2000. */
  readyTimeoutMs?: number;
}

export interface Dashboard {
  app: Hono;
  /** Stops the sampler and closes the schedules' queue. The caller closes the clients it passed in. */
  close(): Promise<void>;
}

export function createDashboard(deps: DashboardDeps): Dashboard {
  const { config, pool, store, queue, log } = deps;
  const token = config.dashboardToken;
  const app = new Hono();
  app.use('*', accessControl(token));
  app.onError((err, c) => {
    log.error({ err: { message: err.message } }, 'dashboard request failed');
    return c.json({ error: 'internal error; see the dashboard log' }, 500);
  });

  const metrics = createDashboardMetrics({
    pool,
    store,
    queue,
    quota: config.camsRateLimit,
    account: configuredAccount(config),
  });
  const history = createCallRateHistory();
  const fleetHistory = createFleetHistory();
  const processes = () => store.readProcessSnapshots(queue);
  const sample = async () => {
    try {
      const [fleet, each] = await Promise.all([metrics.fleet(), processes()]);
      const t = Date.now();
      history.add((await metricValue(fleet.registry, METRIC.calls)) ?? 0, t);
      const throttled = (await metricValue(fleet.registry, METRIC.throttled)) ?? 0;
      fleetHistory.add(throttled, new Map(each.map((p) => [p.id, processCalls(p)])), t);
    } catch (err) {
      log.debug({ err }, 'could not sample the call rate');
    }
  };
  void sample();
  const sampler = setInterval(() => void sample(), deps.sampleMs ?? 2000);
  sampler.unref();

  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', async (c) => {
    const problems = await readiness(pool, store, deps.readyTimeoutMs ?? 2000);
    // A probe without the token learns the status code, nothing about the servers behind it.
    if (!authorized(c.req.header('authorization'), token))
      return c.body(null, problems.length > 0 ? 503 : 200);
    if (problems.length > 0) return c.text(`not ready: ${problems.join('; ')}\n`, 503);
    // Ready, but worth an operator's eye: a Redis that may evict BullMQ's keys.
    const warning = await store.warning().catch(() => undefined);
    return c.text(warning ? `ready\nwarning: ${warning}\n` : 'ready\n');
  });
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.contentType);
    return c.body(await metrics.text());
  });
  addConsole(app, {
    config,
    pool,
    store,
    queue,
    metrics,
    history,
    fleetHistory,
    processes,
    canAct: !!token,
  });
  const schedules = createScheduleQueue(config.queueName, store);
  schedules.on('error', (err) => log.debug({ err }, 'schedules queue error'));
  addActionsApi(app, { config, pool, store, queue, schedules, log });
  addDownloads(app, pool, log);

  const board = new HonoAdapter(serveStatic);
  board.setBasePath('/queues');
  const adapter = new BullMQAdapter(queue as unknown as ConstructorParameters<typeof BullMQAdapter>[0], {
    readOnlyMode: !token,
    allowRetries: !!token,
  });
  // Job data carries the number: Bull Board shows it masked.
  adapter.setFormatter('data', (data: { custSpaceId?: string; phoneNumber?: string }) => ({
    ...data,
    ...(typeof data?.phoneNumber === 'string' ? { phoneNumber: maskPhone(data.phoneNumber) } : {}),
  }));
  // The schedules' queue: one job per tick, carrying the stored command (never a secret).
  const ticks = new BullMQAdapter(schedules as unknown as ConstructorParameters<typeof BullMQAdapter>[0], {
    readOnlyMode: !token,
    allowRetries: false,
  });
  createBullBoard({
    queues: [adapter, ticks],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'cams-enrich' } },
  });
  app.route('/queues', board.registerPlugin());

  let closing: Promise<void> | undefined;
  return {
    app,
    close() {
      clearInterval(sampler);
      closing ??= schedules
        .close()
        .catch((err: unknown) => log.debug({ err }, 'could not close the schedules queue'));
      return closing;
    },
  };
}

/** What does not answer, in words; empty when both do. */
export async function readiness(pool: Pool, store: QueueStore, timeoutMs: number): Promise<string[]> {
  const check = async (name: string, probe: () => Promise<unknown>): Promise<string | undefined> => {
    try {
      await withDeadline(probe(), timeoutMs);
      return undefined;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return `${name}: ${e.code ?? e.message ?? 'unreachable'}`;
    }
  };
  const results = await Promise.all([
    check('PostgreSQL', () => pool.query('SELECT 1')),
    // On PostgreSQL the queue's server is the ledger's: one check says it.
    ...(store.kind === 'redis' ? [check('Redis', () => store.ready())] : []),
  ]);
  return results.filter((r): r is string => r !== undefined);
}

export interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `app` on `host:port` (0: any free port). */
export function listen(app: Hono, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${shown}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}
