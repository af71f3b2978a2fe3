import type { FastifyInstance } from 'fastify';
import { Coordinator, type CoordinatorOptions } from '../coordinator.js';
import { createHttpApp, mountApi, type ApiOptions, type OperationsApi } from './server.js';

export { Auth, generateToken, tokenProblems, SESSION_COOKIE, DEFAULT_SESSIONS_PER_ROLE, type Role, type Access, type Identified } from './auth.js';
export { createHttpApp, mountApi, resolveDashboardDir, OperationsApi, type ApiOptions } from './server.js';
export { DEFAULT_RATE_LIMITS, CSRF_HEADER, charsetOf } from './guard.js';
export { AuditTrail, type AuditOptions } from './audit.js';
export { TrustedProxies } from './proxy.js';
export { HttpError, sameOrigin, type Identity } from './http.js';
export { LiveFeed, LIVE_PATH, LIVE_NAMESPACE } from './live.js';
export { CoordinatorMetrics } from './metrics.js';
export type { LiveRound, Replanner } from './types.js';
export type {
  NodesView, NodeView, EdgeView, PlanView, PlanJson, PlanHistoryRow, RunView, Overview, CapacitySummary, ModelView, LiveRoundMessage,
} from './view-types.js';

/** The address a browser on this machine should open for a server bound to `host`. */
export function dashboardUrl(host: string, port: number, secure = false): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `${secure ? 'https' : 'http'}://${h}:${port}/`;
}

export interface ServedCoordinator {
  coordinator: Coordinator;
  api: OperationsApi;
  app: FastifyInstance;
  port: number;
  /** The dashboard's address. */
  url: string;
  /** Stops the live feed, the coordinator (edges) and the HTTP server, in that order. */
  close(): Promise<void>;
}

export interface ServeCoordinatorOptions extends Omit<CoordinatorOptions, 'http'> {
  adminToken: string;
  viewerToken: string;
  dashboardDir?: string | null;
  defaultMetrics?: boolean;
  /** Called with the coordinator before it listens (e.g. to create a run or attach listeners). */
  beforeListen?: (c: Coordinator) => void;
  /** Passed on to the API (see ApiOptions). */
  tls?: boolean;
  trustedProxy?: readonly string[];
  rateLimit?: ApiOptions['rateLimit'];
  sessionsPerRole?: number;
  audit?: ApiOptions['audit'];
}

/**
 * A coordinator with its operations API and dashboard on one port: the
 * Fastify app owns the HTTP server, the edges' socket.io ('/socket.io') and
 * the dashboards' ('/live/socket.io', namespace '/dashboard') attach to it.
 */
export async function serveCoordinator(o: ServeCoordinatorOptions): Promise<ServedCoordinator> {
  const app = createHttpApp(o.pki?.credential);
  const { adminToken, viewerToken, dashboardDir, defaultMetrics, beforeListen, tls, trustedProxy, rateLimit, sessionsPerRole, audit, ...copts } = o;
  const coordinator = new Coordinator({ ...copts, http: app.server });
  let api: OperationsApi;
  try {
    api = await mountApi(app, {
      coordinator, adminToken, viewerToken, backend: o.backend, log: o.log, dashboardDir, defaultMetrics, tls, trustedProxy, rateLimit, sessionsPerRole, audit,
    });
  } catch (err) {
    await app.close();
    throw err;
  }
  let port: number;
  try {
    beforeListen?.(coordinator);
    await app.listen({ port: o.port, host: o.bindHost });
    port = await coordinator.start();
  } catch (err) {
    await api.close();
    await app.close().catch(() => undefined);
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    coordinator, api, app, port, url: dashboardUrl(o.bindHost, port, o.pki !== undefined),
    close: () => (closed ??= (async () => {
      await api.close();
      await coordinator.close();
      await app.close();
    })()),
  };
}
