/**
 * The console's pages and their read API: the runs list (`/`, `GET /api/runs`), a run's page
 * (`/runs/:id`, `GET /api/runs/:id`), the schedules page (over the schedules API) and the fleet page
 * (`GET /api/fleet`). The actions these pages
 * call are routes of their own; every route passes the access rules of `access.ts` first.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { RUN_PHASES } from '../db/sql/runs-page.js';
import { RUN_PRIORITIES } from '../db/runs.js';
import { isAppError } from '../errors.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { CallRateHistory } from './call-rate.js';
import { FLEET_PAGE } from './fleet-page.js';
import type { FleetHistory } from './fleet-history.js';
import { readFleetView } from './fleet-view.js';
import type { ProcessSnapshot } from '../queue/queue-store.js';
import { SCHEDULES_PAGE } from './schedules-page.js';
import type { DashboardMetrics } from './metrics.js';
import { RUN_PAGE } from './run-page.js';
import { readRunView } from './run-view.js';
import { RUNS_PAGE } from './runs-page.js';
import type { RunsQuery } from './runs-view.js';
import { readRunsView } from './runs-view.js';

export interface ConsoleDeps {
  config: Config;
  pool: Pool;
  store: QueueStore;
  queue: EnrichQueue;
  metrics: DashboardMetrics;
  history: CallRateHistory;
  fleetHistory: FleetHistory;
  /** Each live worker process's snapshot. */
  processes: () => Promise<ProcessSnapshot[]>;
  /** Whether actions are possible at all: a token is configured (and every request carries it). */
  canAct: boolean;
}

const text = z.string().trim().min(1).max(200).optional();
const runsQuery = z.object({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  state: z.enum(RUN_PHASES).optional(),
  source: text,
  space: text,
  priority: z.enum(RUN_PRIORITIES).optional(),
});

/** The query of `GET /api/runs`, empty values taken as absent; a message for people when it is wrong. */
export function parseRunsQuery(params: Record<string, string>): RunsQuery | string {
  const given = Object.fromEntries(Object.entries(params).filter(([, v]) => v.trim() !== ''));
  const parsed = runsQuery.safeParse(given);
  if (!parsed.success) {
    return parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
  }
  const { page, limit, state, source, space, priority } = parsed.data;
  const filter: RunsQuery['filter'] = {};
  if (state) filter.phase = state;
  if (source) filter.source = source;
  if (space) filter.space = space;
  if (priority) filter.priority = priority;
  return { page, limit, filter };
}

export function addConsole(app: Hono, deps: ConsoleDeps): void {
  const { config, pool, store, queue } = deps;
  app.get('/', (c) => c.html(RUNS_PAGE));
  app.get('/runs/:id{[0-9]{1,15}}', (c) => c.html(RUN_PAGE));
  app.get('/schedules', (c) => c.html(SCHEDULES_PAGE));
  app.get('/fleet', (c) => c.html(FLEET_PAGE));
  app.get('/api/fleet', async (c) =>
    c.json(
      await readFleetView({
        pool,
        queue,
        store,
        limiter: () => deps.metrics.limiter(),
        processes: deps.processes,
        history: deps.fleetHistory,
        calls: deps.history.points(),
        canAct: deps.canAct,
      }),
    ),
  );

  app.get('/api/runs', async (c) => {
    const query = parseRunsQuery(c.req.query());
    if (typeof query === 'string') return c.json({ error: query, code: 'USAGE' }, 400);
    return c.json(
      await readRunsView({
        config,
        pool,
        queue,
        store,
        fleet: deps.metrics,
        calls: deps.history.points(),
        canAct: deps.canAct,
        query,
      }),
    );
  });
  app.get('/api/runs/:id{[0-9]{1,15}}', async (c) => {
    try {
      const view = await readRunView(pool, Number(c.req.param('id')), deps.canAct);
      if (view.run.queue !== queue.name) {
        return c.json(
          { error: `run ${view.run.run} belongs to queue ${view.run.queue}`, code: 'RUN_NOT_FOUND' },
          404,
        );
      }
      return c.json(view);
    } catch (err) {
      if (isAppError(err) && err.code === 'RUN_NOT_FOUND')
        return c.json({ error: err.message, code: err.code }, 404);
      throw err;
    }
  });
}
