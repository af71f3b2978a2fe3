import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import type { RequestListener, Server as HttpServer } from 'node:http';
import type { LogLike } from '@hsfl/protocol';
import { createLinkServer, type ServerCredential } from '@hsfl/tier-engine';
import type { Coordinator } from '../coordinator.js';
import { Auth } from './auth.js';
import { AuditTrail, registerAudit, type AuditOptions } from './audit.js';
import { RequestFacts } from './facts.js';
import { DEFAULT_RATE_LIMITS, checkRateLimits, isSecureRequest, liveGuard, registerGuard } from './guard.js';
import { LIVE_PATH, LiveFeed } from './live.js';
import { CoordinatorMetrics } from './metrics.js';
import { TrustedProxies } from './proxy.js';
import { registerRoutes } from './routes.js';
import { registerEnrollmentRoutes } from './enrollment-routes.js';
import { registerSessionRoutes } from './session-routes.js';
import { HttpError, STATUS_TEXT, httpStatusOf, sameOrigin } from './http.js';

export { HttpError, sameOrigin, type Identity } from './http.js';
export { DEFAULT_RATE_LIMITS, CSRF_HEADER } from './guard.js';

export interface ApiOptions {
  coordinator: Coordinator;
  /** Grants control (start, pause, re-plan, remove...). */
  adminToken: string;
  /** Grants read-only access. */
  viewerToken: string;
  /** The coordinator's tfjs backend, shown on the dashboard. */
  backend: string;
  log: LogLike;
  /** The built dashboard (index.html + assets); default: @hsfl/dashboard's dist/. null: serve none. */
  dashboardDir?: string | null;
  /** prom-client's default process metrics (default true). */
  defaultMetrics?: boolean;
  sessionTtlMs?: number;
  /** Browser sessions each principal (admin, viewer) may hold; a login beyond it ends that principal's oldest (default 50). */
  sessionsPerRole?: number;
  /**
   * The server speaks TLS itself (an https server): session cookies get
   * `Secure`, answers carry HSTS and the CSP upgrades insecure requests.
   */
  tls?: boolean;
  /**
   * Reverse proxies (IP addresses or CIDR blocks) whose X-Forwarded-For
   * (client address, for rate limits and the audit trail) and
   * X-Forwarded-Proto (https: `Secure` cookie, HSTS) are believed. Without
   * it these headers are ignored.
   */
  trustedProxy?: readonly string[];
  /** Requests per minute per client address: all (default 1000) and logins (default 10). */
  rateLimit?: { perMinute?: number; loginPerMinute?: number };
  /** Coalescing of refused requests in the audit trail. */
  audit?: AuditOptions;
}

/** Where @hsfl/dashboard's built files are, or null when they are not built. */
export function resolveDashboardDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@hsfl/dashboard/package.json');
    const dir = join(dirname(pkg), 'dist');
    return existsSync(join(dir, 'index.html')) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * The coordinator's HTTP server: strict JSON bodies (no coercion, unknown
 * fields refused), 64 KiB body limit, readable validation messages.
 * Create it first, hand `app.server` to the Coordinator as `http`, then mountApi.
 */
export function createHttpApp(credential?: ServerCredential): FastifyInstance {
  return Fastify({
    logger: false,
    // With a credential: https (the project CA's certificate for "cloud"), telling cleartext clients to use TLS.
    ...(credential ? { serverFactory: (handler: RequestListener) => createLinkServer(credential, handler) as HttpServer } : {}),
    bodyLimit: 64 * 1024,
    // A shutdown must not wait on open connections: nodes reconnect at once and would hold it open.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    schemaErrorFormatter: (errors, dataVar) => {
      const parts = errors.map((e) => {
        const where = `${dataVar}${e.instancePath.replace(/\//g, '.')}`;
        if (e.keyword === 'additionalProperties') return `${where} has an unknown field '${String(e.params.additionalProperty)}'`;
        if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) return `${where} must be one of ${e.params.allowedValues.join(', ')}`;
        return `${where} ${e.message ?? 'is invalid'}`;
      });
      return new Error(parts.join('; '));
    },
  });
}

/** The operations API, dashboard, live feed and metrics mounted on one Fastify app. */
export class OperationsApi {
  private constructor(
    readonly app: FastifyInstance,
    readonly auth: Auth,
    readonly metrics: CoordinatorMetrics,
    readonly live: LiveFeed,
    private readonly onClose: () => Promise<void>,
  ) {}

  static async mount(app: FastifyInstance, o: ApiOptions): Promise<OperationsApi> {
    const auth = new Auth(o.adminToken, o.viewerToken, o.sessionTtlMs, o.sessionsPerRole);
    const proxies = new TrustedProxies(o.trustedProxy ?? []);
    const tls = o.tls === true;
    const facts = new RequestFacts();
    const trail = new AuditTrail(o.coordinator.store, o.log, o.audit);
    // Checked before anything is attached, so that a bad option leaves nothing behind.
    const rateLimit = checkRateLimits({ ...DEFAULT_RATE_LIMITS, ...o.rateLimit });
    const removed = new Set<string>();
    const onEvent = (e: { kind?: string; nodeId?: string | null }) => {
      if (e.kind === 'node_removed' && e.nodeId) removed.add(e.nodeId);
    };
    o.coordinator.on('event', onEvent);
    const metrics = new CoordinatorMetrics(o.coordinator, { defaultMetrics: o.defaultMetrics });

    await app.register(fastifyCookie);
    const live = new LiveFeed({
      http: app.server, coordinator: o.coordinator, auth, backend: o.backend, log: o.log, removed,
      parseCookie: (h) => app.parseCookie(h), sameOrigin, ...liveGuard({ proxies, rateLimit, trail, log: o.log, path: LIVE_PATH }),
    });
    await registerGuard(app, { auth, facts, proxies, tls, rateLimit });
    registerAudit(app, trail, facts, o.log);

    app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
      const status = httpStatusOf(err);
      let message = err.message;
      if (status >= 500) {
        o.log.error({ err: err.message, stack: err.stack, url: req.url, method: req.method }, 'API request failed');
        if (status === 500) message = `internal error: ${err.message}`;
      }
      const f = facts.get(req);
      if (f) f.error = message;
      void reply.code(status).type('application/json; charset=utf-8').send({ statusCode: status, error: STATUS_TEXT[status] ?? 'Error', message });
    });

    const ctx = {
      coordinator: o.coordinator, auth, backend: o.backend, log: o.log, metrics, live, removed, trail, facts,
      identity: (req: FastifyRequest) => facts.identity(req),
      secure: (req: FastifyRequest) => isSecureRequest(req, { tls, proxies }),
    };
    registerSessionRoutes(app, ctx);
    registerRoutes(app, ctx);
    registerEnrollmentRoutes(app, {
      coordinator: o.coordinator,
      actor: (req) => {
        const f = facts.get(req);
        return `${f?.identity?.role ?? 'anonymous'} (${f?.identity?.via ?? 'no credential'}) from ${f?.address ?? req.ip}`;
      },
      note: (req, target) => facts.note(req, { target }),
    });

    const dir = o.dashboardDir === undefined ? resolveDashboardDir() : o.dashboardDir;
    if (dir) {
      await app.register(fastifyStatic, {
        root: dir,
        prefix: '/',
        index: 'index.html',
        // A route per built file, found at start (the files are fixed for the process's life): any other
        // path goes to the not-found handler without the filesystem being consulted about it.
        wildcard: false,
        setHeaders: (res, path) => {
          // Vite names assets by content hash; index.html must always be fresh.
          res.header('Cache-Control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
        },
        cacheControl: false,
      });
    } else {
      app.get('/', { config: { access: 'public' } }, async (_req, reply) => {
        reply.type('text/html; charset=utf-8');
        return '<!doctype html><meta charset="utf-8"><title>hsfl coordinator</title><p>The dashboard is not built. Run <code>npm run build</code> (it builds @hsfl/dashboard with Vite); the REST API under <code>/api</code> works meanwhile.</p>';
      });
    }
    app.setNotFoundHandler(async (req: FastifyRequest, reply: FastifyReply) => {
      const path = req.url.split('?')[0]!;
      const wantsPage = req.method === 'GET' && !path.startsWith('/api/') && path !== '/metrics' && !path.startsWith('/live/') && !/\.[a-z0-9]+$/i.test(path);
      if (dir && wantsPage) return reply.type('text/html; charset=utf-8').sendFile('index.html');
      // The path is the caller's: echoed only in part.
      throw new HttpError(404, `no route ${req.method} ${path.length > 200 ? path.slice(0, 200) + '…' : path}`);
    });

    return new OperationsApi(app, auth, metrics, live, async () => {
      o.coordinator.off('event', onEvent);
      live.close();
      metrics.close();
      try {
        trail.close();
      } catch (err) {
        o.log.warn({ err: String(err) }, 'audit counts could not be written at close');
      }
    });
  }

  /** Stops the live feed and metrics; the owner closes the app and the coordinator. */
  async close(): Promise<void> {
    await this.onClose();
  }
}

export function mountApi(app: FastifyInstance, o: ApiOptions): Promise<OperationsApi> {
  return OperationsApi.mount(app, o);
}
