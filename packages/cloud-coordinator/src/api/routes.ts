import type { FastifyInstance, FastifyRequest } from 'fastify';
import './route-config.js'; // declares the route config fields (access, login, audit) to Fastify
import { DEFAULT_TRIAL, type TrialConfig } from '../config.js';
import type { Coordinator } from '../coordinator.js';
import type { RunRow } from '../store/index.js';
import { DEFAULT_FAIL_REASON, markRunFailed } from '../fail-run.js';
import { exportCheckpoint, listModels } from '@hsfl/runtime';
import type { LogLike } from '@hsfl/protocol';
import type { Auth } from './auth.js';
import type { RequestFacts } from './facts.js';
import type { LiveFeed } from './live.js';
import type { CoordinatorMetrics } from './metrics.js';
import * as S from './schemas.js';
import { HttpError, type Identity } from './http.js';
import { canReplan } from './types.js';
import { modelView, nodesView, overview, planView, runView } from './views.js';

export interface RouteContext {
  coordinator: Coordinator;
  auth: Auth;
  backend: string;
  log: LogLike;
  metrics: CoordinatorMetrics;
  live: LiveFeed;
  removed: Set<string>;
  facts: RequestFacts;
  identity: (req: FastifyRequest) => Identity | undefined;
}

type IdParams = { id: string };

/** The read and control routes (session-routes.ts has health, login, logout, session and audit); docs/api.md documents each. */
export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const coord = ctx.coordinator;
  const store = coord.store;
  /** A control route: admin only, recorded in the audit trail as `action`. */
  const admin = (action: string) => ({ access: 'admin' as const, audit: action });
  const viewer = { access: 'viewer' as const };
  let liveModel: { runId: string; round: number; modelJson: string; weights: Buffer } | undefined;

  const getRun = (id: string): RunRow => {
    const run = store.getRun(id);
    if (!run) throw new HttpError(404, `no run ${id}`);
    return run;
  };
  /** The run must exist and be the one in progress. */
  const activeRun = (id: string): RunRow => {
    const run = getRun(id);
    if (coord.runId !== id) throw new HttpError(409, `run ${id} is not in progress (it is ${run.status})${coord.runId ? `; run ${coord.runId} is` : ''}`);
    return run;
  };
  const who = (req: FastifyRequest) => ctx.identity(req)?.role ?? 'unknown';

  // ---- read-only views --------------------------------------------------------------------------

  app.get('/api/overview', { config: viewer }, async () => overview(coord, ctx.backend));

  app.get<{ Querystring: { limit?: string } }>('/api/runs', { config: viewer, schema: { querystring: S.listQuery } }, async (req) => {
    const limit = req.query.limit ? Number(req.query.limit) : 100;
    return { activeRunId: coord.runId ?? null, runs: store.listRuns({ limit }) };
  });

  app.get<{ Params: IdParams }>('/api/runs/:id', { config: viewer, schema: { params: S.runParams } }, async (req) => runView(coord, getRun(req.params.id)));

  app.get<{ Params: IdParams; Querystring: { sinceRound?: string; limit?: string } }>(
    '/api/runs/:id/metrics', { config: viewer, schema: { params: S.runParams, querystring: S.metricsQuery } },
    async (req) => {
      const run = getRun(req.params.id);
      const q = req.query;
      const metrics = store.listRoundMetrics(run.id, {
        sinceRound: q.sinceRound !== undefined ? Number(q.sinceRound) : undefined,
        limit: q.limit !== undefined ? Number(q.limit) : undefined,
      });
      return { runId: run.id, startedAt: run.startedAt, metrics };
    },
  );

  const listEvents = (q: { sinceId?: string; limit?: string; level?: 'debug' | 'info' | 'warn' | 'error' }, runId?: string) =>
    store.listEvents({
      runId, level: q.level, sinceId: q.sinceId !== undefined ? Number(q.sinceId) : undefined, limit: q.limit !== undefined ? Number(q.limit) : 200,
    });

  app.get<{ Params: IdParams; Querystring: { sinceId?: string; limit?: string; level?: 'debug' | 'info' | 'warn' | 'error' } }>(
    '/api/runs/:id/events', { config: viewer, schema: { params: S.runParams, querystring: S.eventsQuery } },
    async (req) => ({ runId: getRun(req.params.id).id, events: listEvents(req.query, req.params.id) }),
  );

  app.get<{ Querystring: { sinceId?: string; limit?: string; level?: 'debug' | 'info' | 'warn' | 'error'; runId?: string } }>(
    '/api/events', { config: viewer, schema: { querystring: S.eventsQuery } },
    async (req) => ({ events: listEvents(req.query, req.query.runId) }),
  );

  app.get<{ Params: IdParams }>('/api/runs/:id/plan', { config: viewer, schema: { params: S.runParams } }, async (req) => planView(coord, getRun(req.params.id)));

  app.get('/api/nodes', { config: viewer }, async () => nodesView(coord, ctx.backend, ctx.removed));

  app.get('/api/models', { config: viewer }, async () => ({ models: listModels().map((m) => modelView(m)) }));

  app.get<{ Params: { name: string } }>(
    '/api/models/:name', { config: viewer, schema: { params: { type: 'object', properties: { name: { type: 'string', maxLength: 64 } } } } },
    async (req) => {
      const m = modelView(req.params.name);
      if (!m) throw new HttpError(404, `no model ${req.params.name} (known: ${listModels().join(', ')})`);
      return m;
    },
  );

  /** The run's assembled model: live for the run in progress, else its latest stored checkpoint. */
  const modelFiles = (runId: string): { round: number; live: boolean; modelJson: string; weights: Buffer } => {
    const run = getRun(runId);
    if (coord.runId === run.id) {
      const round = coord.currentRound ?? 0;
      if (!liveModel || liveModel.runId !== run.id || liveModel.round !== round) {
        const plan = coord.plan!;
        const ck = exportCheckpoint(plan.model, coord.globalWeights());
        liveModel = { runId: run.id, round, modelJson: ck.modelJson, weights: Buffer.from(ck.weightsBin.buffer, ck.weightsBin.byteOffset, ck.weightsBin.byteLength) };
      }
      return { ...liveModel, live: true };
    }
    const ck = store.latestCheckpoint(run.id);
    if (!ck) throw new HttpError(404, `run ${run.id} has no stored model yet (it is ${run.status})`);
    return { round: ck.round, live: false, modelJson: ck.modelJson, weights: ck.weights };
  };

  app.get<{ Params: IdParams }>('/api/runs/:id/model/model.json', { config: viewer, schema: { params: S.runParams } }, async (req, reply) => {
    const f = modelFiles(req.params.id);
    reply.header('X-HSFL-Round', String(f.round)).header('X-HSFL-Live', String(f.live)).type('application/json; charset=utf-8');
    return f.modelJson;
  });

  app.get<{ Params: IdParams }>('/api/runs/:id/model/weights.bin', { config: viewer, schema: { params: S.runParams } }, async (req, reply) => {
    const f = modelFiles(req.params.id);
    reply.header('X-HSFL-Round', String(f.round)).header('X-HSFL-Live', String(f.live)).type('application/octet-stream');
    return f.weights;
  });

  app.get('/metrics', { config: viewer }, async (_req, reply) => {
    reply.type(ctx.metrics.contentType);
    return ctx.metrics.metrics();
  });

  // ---- control ----------------------------------------------------------------------------------

  app.post<{ Body: Partial<TrialConfig> }>('/api/runs', { config: admin('run_created'), schema: { body: S.trialBody() } }, async (req, reply) => {
    const trial: TrialConfig = { ...DEFAULT_TRIAL, name: 'api-run', ...req.body };
    const run = coord.createRun(trial);
    ctx.facts.note(req, { target: run.id, detail: trial.name });
    ctx.log.info({ runId: run.id, by: who(req) }, 'run created through the API');
    ctx.live.scheduleOverview();
    reply.code(201);
    return run;
  });

  app.post<{ Params: IdParams }>('/api/runs/:id/start', { config: admin('run_started'), schema: { params: S.runParams } }, async (req, reply) => {
    const run = getRun(req.params.id);
    const done = coord.startRun(run.id);
    done.then(
      (s) => ctx.log.info({ runId: s.runId, status: s.status, rounds: s.rounds, testAccuracy: s.testAccuracy }, 'run ended'),
      (err: unknown) => ctx.log.error({ runId: run.id, err: String(err) }, 'run failed'),
    );
    ctx.log.info({ runId: run.id, by: who(req) }, 'run started through the API');
    ctx.live.scheduleOverview();
    reply.code(202);
    return runView(coord, store.getRun(run.id)!);
  });

  app.post<{ Params: IdParams }>('/api/runs/:id/pause', { config: admin('run_paused'), schema: { params: S.runParams } }, async (req) => {
    activeRun(req.params.id);
    coord.pause();
    return runView(coord, getRun(req.params.id));
  });

  app.post<{ Params: IdParams }>('/api/runs/:id/resume', { config: admin('run_resumed'), schema: { params: S.runParams } }, async (req) => {
    activeRun(req.params.id);
    coord.resume();
    return runView(coord, getRun(req.params.id));
  });

  app.post<{ Params: IdParams }>('/api/runs/:id/stop', { config: admin('run_stopped'), schema: { params: S.runParams } }, async (req, reply) => {
    activeRun(req.params.id);
    coord.requestStop();
    reply.code(202);
    return { ...runView(coord, getRun(req.params.id)), stopRequested: true };
  });

  /**
   * An operator ends a run a coordinator left running or paused (it died) and
   * will not resume. Never the run this coordinator is driving: stop that one.
   */
  app.post<{ Params: IdParams }>('/api/runs/:id/fail', { config: admin('run_marked_failed'), schema: { params: S.runParams } }, async (req) => {
    const reason = S.optionalReason(req.body, `${DEFAULT_FAIL_REASON} through the API`);
    const run = getRun(req.params.id);
    if (coord.runId === run.id) {
      throw new HttpError(409, `run ${run.id} is in progress in this coordinator; stop it with POST /api/runs/${run.id}/stop instead`);
    }
    const failed = markRunFailed(store, run.id, reason, `the API (${who(req)})`).run;
    ctx.facts.note(req, { detail: reason });
    ctx.log.warn({ runId: run.id, was: run.status, reason, by: who(req) }, 'run marked failed through the API');
    ctx.live.scheduleOverview();
    return runView(coord, failed);
  });

  app.post<{ Params: IdParams; Body: { c1: number; c2: number; i1: number; i2: number; reason?: string } }>(
    '/api/runs/:id/plan', { config: admin('plan_requested'), schema: { params: S.runParams, body: S.planBody } },
    async (req, reply) => {
      activeRun(req.params.id);
      const { c1, c2, i1, i2 } = req.body;
      coord.requestPlan({ c1, c2, i1, i2 }, req.body.reason ?? `manual plan by the operator`, { source: 'manual' });
      ctx.facts.note(req, { detail: `cuts (${c1}, ${c2}), intervals (${i1}, ${i2})` });
      reply.code(202);
      return { requested: { c1, c2, i1, i2 }, appliesAfterRound: coord.currentRound ?? null, note: 'the next round syncs every tier; the plan applies after it' };
    },
  );

  app.post<{ Params: IdParams }>('/api/runs/:id/replan', { config: admin('replan'), schema: { params: S.runParams } }, async (req, reply) => {
    const body = req.body as unknown;
    let reason = 'operator asked to re-plan';
    if (body !== undefined && body !== null) {
      const r = (body as { reason?: unknown }).reason;
      const keys = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : null;
      if (!keys || keys.some((k) => k !== 'reason') || (r !== undefined && (typeof r !== 'string' || r.length === 0 || r.length > 200))) {
        throw new HttpError(400, 'body must be empty or { "reason": "<1-200 characters>" }');
      }
      if (typeof r === 'string') reason = r;
    }
    activeRun(req.params.id);
    if (!canReplan(coord)) throw new HttpError(501, 'this coordinator has no planner (Coordinator.replan is missing); apply a manual plan with POST /api/runs/:id/plan');
    const result: unknown = await coord.replan(reason);
    reply.code(202);
    return { result: result ?? null };
  });

  app.delete<{ Params: IdParams }>('/api/nodes/:id', { config: admin('node_removed'), schema: { params: S.nodeParams } }, async (req, reply) => {
    const id = req.params.id;
    coord.removeDevice(id);
    ctx.removed.add(id);
    ctx.log.info({ device: id, by: who(req) }, 'device removed through the API');
    reply.code(202);
    return { removed: id };
  });
}
