/**
 * The dashboard's JSON API for the admin's actions and for schedules and the audit log. Every action
 * is the CLI's own (`runs/actions.ts`), recorded with the client's address and `via: dashboard`. The
 * access rules (`access.ts`) run first: no action answers without the token, and none at all when no
 * token is configured. Answers: 200 with the result; 400, 404 or 409 with `{error, code}`.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Hono } from 'hono';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { isRunPriority } from '../db/runs.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { Actor, AuditEntry } from '../runs/actions.js';
import {
  cancelAction,
  disableScheduleAction,
  enableScheduleAction,
  pauseAction,
  priorityAction,
  readAudit,
  resumeAction,
  retryFailedAction,
  runScheduleAction,
} from '../runs/actions.js';
import { scheduleTicks, scheduleViews } from '../schedules/schedule-view.js';
import type { ScheduleQueue } from '../schedules/schedules.js';

export interface ActionsApiDeps {
  config: Config;
  pool: Pool;
  store: QueueStore;
  queue: EnrichQueue;
  schedules: ScheduleQueue;
  log: Logger;
}

/** HTTP status of a refused action, by its error code. */
function statusOf(code: string, exitCode: 1 | 2): 400 | 404 | 409 | undefined {
  if (code === 'RUN_NOT_FOUND' || code === 'SCHEDULE_NOT_FOUND') return 404;
  if (code === 'RUN_FINISHED') return 409;
  return exitCode === 2 ? 400 : undefined;
}

class BadRequest extends Error {}

function runId(c: Context): number {
  const raw = c.req.param('id') ?? '';
  const id = /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id))
    throw new BadRequest(`run id ${JSON.stringify(raw)}: a positive whole number`);
  return id;
}

/** The request's JSON object body; an empty body is `{}`. */
async function body(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest('the body must be JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new BadRequest('the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** Where the request came from: the client's address as the socket says (no forwarding header is trusted). */
function actor(c: Context): Actor {
  let address = 'unknown';
  try {
    address = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // Not served by a Node server (a request handed to app.request()): no socket to ask.
  }
  return { via: 'dashboard', address };
}

function auditJson(e: AuditEntry) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    action: e.action,
    run: e.runId,
    schedule: e.schedule,
    details: e.details,
    actor: e.actor,
    via: e.via,
  };
}

function limitParam(c: Context, fallback: number, max: number): number {
  const raw = c.req.query('limit');
  if (raw === undefined) return fallback;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= max)) throw new BadRequest(`limit ${JSON.stringify(raw)}: from 1 to ${max}`);
  return n;
}

export function addActionsApi(app: Hono, deps: ActionsApiDeps): void {
  const { config, pool, store, queue, schedules, log } = deps;
  const queueName = queue.name;
  const scheduleDeps = { pool, schedules, queueName };

  /** Runs `handler`, answering a refusal with its status and `{error, code}`. */
  const answer =
    (what: string, handler: (c: Context) => Promise<unknown>) =>
    async (c: Context): Promise<Response> => {
      try {
        const result = await handler(c);
        if (c.req.method === 'POST')
          log.info({ action: what, via: 'dashboard' }, `${what} from the dashboard`);
        return c.json(result as object);
      } catch (err) {
        if (err instanceof BadRequest) return c.json({ error: err.message, code: 'USAGE' }, 400);
        if (isAppError(err)) {
          const status = statusOf(err.code, err.exitCode);
          if (status !== undefined) return c.json({ error: err.message, code: err.code }, status);
        }
        throw err;
      }
    };

  app.post(
    '/api/runs/:id/cancel',
    answer('cancel', (c) => cancelAction({ pool, queue }, actor(c), runId(c))),
  );
  app.post(
    '/api/runs/:id/priority',
    answer('priority', async (c) => {
      const id = runId(c);
      const { level } = await body(c);
      if (typeof level !== 'string' || !isRunPriority(level))
        throw new BadRequest('level: high, normal or low');
      return priorityAction({ pool, queue }, actor(c), id, level);
    }),
  );
  app.post(
    '/api/runs/:id/retry-failed',
    answer('retry-failed', (c) => retryFailedAction(config, { pool, queue, log }, actor(c), runId(c))),
  );
  app.post(
    '/api/queue/pause',
    answer('pause', async (c) => {
      const { reason } = await body(c);
      if (reason !== undefined && typeof reason !== 'string') throw new BadRequest('reason: a text');
      return pauseAction({ pool, queue }, actor(c), reason);
    }),
  );
  const resume = answer('resume', (c) => resumeAction(config, { pool, queue, store, log }, actor(c)));
  app.post('/api/queue/resume', resume);
  app.post('/api/resume', resume);
  app.post(
    '/api/schedules/:name/enable',
    answer('schedule-enable', (c) => enableScheduleAction(scheduleDeps, actor(c), c.req.param('name') ?? '')),
  );
  app.post(
    '/api/schedules/:name/disable',
    answer('schedule-disable', (c) =>
      disableScheduleAction(scheduleDeps, actor(c), c.req.param('name') ?? ''),
    ),
  );
  app.post(
    '/api/schedules/:name/run',
    answer('schedule-run', (c) => runScheduleAction(scheduleDeps, actor(c), c.req.param('name') ?? '')),
  );

  app.get(
    '/api/audit',
    answer('audit', async (c) => {
      const run = c.req.query('run');
      const schedule = c.req.query('schedule');
      let id: number | undefined;
      if (run !== undefined) {
        id = /^[1-9]\d{0,15}$/.test(run) ? Number(run) : NaN;
        if (!Number.isSafeInteger(id))
          throw new BadRequest(`run ${JSON.stringify(run)}: a positive whole number`);
      }
      const entries = await readAudit(pool, {
        queue: queueName,
        runId: id,
        schedule,
        limit: limitParam(c, 100, 1000),
      });
      return { entries: entries.map(auditJson) };
    }),
  );
  app.get(
    '/api/schedules',
    answer('schedules', async (c) => ({
      schedules: await scheduleViews(schedules, pool, queueName, limitParam(c, 10, 100)),
    })),
  );
  app.get(
    '/api/schedules/:name/ticks',
    answer('ticks', async (c) => {
      const name = c.req.param('name') ?? '';
      return { name, ticks: await scheduleTicks(schedules, pool, queueName, name, limitParam(c, 50, 1000)) };
    }),
  );
}
