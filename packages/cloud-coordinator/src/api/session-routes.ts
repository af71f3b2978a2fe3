import type { FastifyInstance, FastifyRequest } from 'fastify';
import './route-config.js'; // declares the route config fields (access, login, audit) to Fastify
import type { Coordinator } from '../coordinator.js';
import { SESSION_COOKIE, type Auth } from './auth.js';
import type { AuditTrail } from './audit.js';
import type { RequestFacts } from './facts.js';
import { HttpError, sameOrigin } from './http.js';
import type { LiveFeed } from './live.js';
import * as S from './schemas.js';

export interface SessionRouteContext {
  coordinator: Coordinator;
  auth: Auth;
  live: LiveFeed;
  trail: AuditTrail;
  facts: RequestFacts;
  /** Whether the client reached us over https (native TLS or a trusted proxy): the cookie's Secure flag. */
  secure: (req: FastifyRequest) => boolean;
}

const VERSION = '0.1.0';

/** Health, browser sessions (login, logout, who am I) and the audit trail; docs/api.md documents each. */
export function registerSessionRoutes(app: FastifyInstance, ctx: SessionRouteContext): void {
  const coord = ctx.coordinator;
  const started = Date.now();

  app.get('/api/health', { config: { access: 'public' } }, async () => ({
    ok: true, version: VERSION, uptimeS: Math.round((Date.now() - started) / 1000), activeRunId: coord.runId ?? null,
  }));

  app.post<{ Body: { token: string } }>(
    '/api/login', { config: { access: 'public', login: true, audit: 'login' }, schema: { body: S.loginBody } },
    async (req, reply) => {
      if (!sameOrigin(req.headers)) throw new HttpError(403, 'cross-site login refused');
      const role = ctx.auth.roleForToken(req.body.token);
      // Wrong tokens are recorded (coalesced) by the audit trail, not logged one line each.
      if (!role) throw new HttpError(401, 'wrong token');
      const s = ctx.auth.createSession(role);
      reply.setCookie(SESSION_COOKIE, s.id, {
        httpOnly: true, sameSite: 'strict', path: '/', secure: ctx.secure(req), maxAge: Math.floor(ctx.auth.sessionTtlMs / 1000),
      });
      ctx.facts.note(req, { principal: role, via: 'login' });
      return { role, expiresAt: s.expiresAt, csrfToken: s.csrfToken };
    },
  );

  app.post('/api/logout', { config: { access: 'public', audit: 'logout' } }, async (req, reply) => {
    const sid = req.cookies[SESSION_COOKIE];
    // Without a live session there is nothing to end: not an action of its own in the audit trail.
    if (!ctx.auth.roleForSession(sid)) ctx.facts.note(req, { noop: true });
    if (sid) {
      ctx.auth.destroySession(sid);
      ctx.live.dropSession(sid);
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: ctx.secure(req) });
    return { ok: true };
  });

  app.get('/api/session', { config: { access: 'viewer' } }, async (req) => {
    const id = ctx.facts.identity(req)!;
    // A reloaded dashboard gets its session's CSRF token here; a cross-site page cannot read this answer.
    return id.via === 'session' ? { role: id.role, via: id.via, csrfToken: ctx.auth.csrfToken(id.sid) } : { role: id.role, via: id.via };
  });

  app.get<{ Querystring: { limit?: string; beforeId?: string } }>(
    '/api/audit', { config: { access: 'admin' }, schema: { querystring: S.auditQuery } },
    async (req) => {
      // Coalesced counts still in memory are written first, so that the answer is exact.
      ctx.trail.flush();
      const q = req.query;
      const entries = coord.store.listAudit({
        limit: q.limit !== undefined ? Number(q.limit) : undefined,
        beforeId: q.beforeId !== undefined ? Number(q.beforeId) : undefined,
      });
      return { entries };
    },
  );
}
