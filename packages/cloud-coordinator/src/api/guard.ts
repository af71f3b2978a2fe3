import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LogLike } from '@hsfl/protocol';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import { SESSION_COOKIE, allowed, type Access, type Auth } from './auth.js';
import type { RequestFacts } from './facts.js';
import type { RouteGuardConfig } from './route-config.js';
import { HttpError, sameOrigin } from './http.js';
import type { TrustedProxies } from './proxy.js';
import type { AuditTrail } from './audit.js';
import { WindowLimiter } from './window-limiter.js';

/** Requests per minute per client address, unless ApiOptions.rateLimit says otherwise. */
export const DEFAULT_RATE_LIMITS = { perMinute: 1000, loginPerMinute: 10 } as const;
export const CSRF_HEADER = 'x-csrf-token';
const HSTS = 'max-age=15552000';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const WINDOW_MS = 60_000;

export interface GuardOptions {
  auth: Auth;
  facts: RequestFacts;
  proxies: TrustedProxies;
  /** The server speaks TLS itself. */
  tls: boolean;
  rateLimit: { perMinute: number; loginPerMinute: number };
}

/**
 * Everything checked before a request reaches its route, in this order:
 * the rate limits (a flood is refused before it costs anything), who the
 * caller is, whether a cookie-authenticated control is same-origin and
 * carries the session's CSRF token, and that a body is UTF-8. Plus the
 * security headers of every answer (helmet).
 */
export async function registerGuard(app: FastifyInstance, o: GuardOptions): Promise<void> {
  checkRateLimits(o.rateLimit);
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"], fontSrc: ["'self'"], objectSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"],
        formAction: ["'self'"],
        // Only over TLS: on plain http (the local trial) it would send the dashboard's requests to an https that is not there.
        ...(o.tls ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: o.tls ? { maxAge: 15552000, includeSubDomains: false } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
  // The plugin's accounting (a bounded LRU per limit), applied by our own hook so that it runs before authentication.
  await app.register(fastifyRateLimit, { global: false });
  const key = (req: FastifyRequest) => o.facts.get(req)?.address ?? 'unknown';
  const apiLimit = app.createRateLimit({ max: o.rateLimit.perMinute, timeWindow: WINDOW_MS, keyGenerator: key });
  const loginLimit = app.createRateLimit({ max: o.rateLimit.loginPerMinute, timeWindow: WINDOW_MS, keyGenerator: key });

  app.addHook('onRequest', async (req, reply) => {
    const facts = o.facts.set(req, { address: o.proxies.clientAddress(req.raw) });
    const cfg: RouteGuardConfig = req.routeOptions.config ?? {};

    const limits: [typeof apiLimit, string][] = cfg.login ? [[apiLimit, 'requests'], [loginLimit, 'logins']] : [[apiLimit, 'requests']];
    for (const [limit, what] of limits) {
      const r = await limit(req);
      if (r.isAllowed || !r.isExceeded) continue;
      reply.header('Retry-After', String(r.ttlInSeconds)).header('X-RateLimit-Limit', String(r.max)).header('X-RateLimit-Remaining', '0');
      throw new HttpError(429, `too many ${what} from ${facts.address}: at most ${r.max} a minute; retry in ${r.ttlInSeconds} s`);
    }

    const path = req.url.split('?')[0]!;
    const access: Access = cfg.access ?? (path.startsWith('/api/') || path === '/api' ? 'viewer' : 'public');
    const id = o.auth.identify(req.headers.authorization, req.cookies[SESSION_COOKIE]);
    facts.identity = id;
    if (access !== 'public' && !id) {
      reply.header('WWW-Authenticate', 'Bearer realm="hsfl"');
      throw new HttpError(401, 'authentication required: send "Authorization: Bearer <token>" or log in');
    }
    // A browser sends the cookie by itself: a cookie-authenticated change must come from our page (Origin) and carry
    // the session's CSRF token, which only our page can read. A bearer token is never sent by a browser on its own.
    const cookieControl = id?.via === 'session' && UNSAFE.has(req.method) && !cfg.login;
    if (cookieControl && !sameOrigin(req.headers)) throw new HttpError(403, 'cross-site request refused');
    if (access !== 'public' && !allowed(id!.role, access)) throw new HttpError(403, 'this needs the admin token; the viewer token is read-only');
    if (cookieControl && !o.auth.checkCsrf(id.sid, req.headers[CSRF_HEADER])) {
      throw new HttpError(403, 'missing or wrong CSRF token: a request authenticated by the session cookie must send the token from POST /api/login (or GET /api/session) in the X-CSRF-Token header');
    }

    const charset = charsetOf(req.headers['content-type']);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      throw new HttpError(415, `Unsupported Media Type: request bodies must be UTF-8 JSON; charset=${charset.slice(0, 40)} is not supported`);
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('Cache-Control', 'no-store');
    // Behind a TLS-terminating proxy we trust, the browser did speak https to it.
    if (!o.tls && o.proxies.forwardedHttps(req.raw)) reply.header('Strict-Transport-Security', HSTS);
    return payload;
  });
}

/** The limits, when each is a whole number >= 1; else a readable error. */
export function checkRateLimits<T extends Record<string, unknown>>(limits: T): T {
  const bad = Object.entries(limits).filter(([, v]) => typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1);
  if (bad.length) throw new Error(bad.map(([k, v]) => `rate limit ${k} must be a whole number >= 1 (got ${String(v)})`).join('; '));
  return limits;
}

/** Whether the client reached us over https (natively, or through a trusted proxy): what the cookie's Secure follows. */
export function isSecureRequest(req: FastifyRequest, o: { tls: boolean; proxies: TrustedProxies }): boolean {
  return o.tls || o.proxies.forwardedHttps(req.raw);
}

/** The charset parameter of a Content-Type header, lower-cased and unquoted; undefined when there is none. */
export function charsetOf(type: string | undefined): string | undefined {
  if (typeof type !== 'string') return undefined;
  const m = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(type);
  return m ? m[2]!.toLowerCase() : undefined;
}

/**
 * The same limits for the live feed, whose socket.io handshakes do not pass
 * through Fastify: connections per address as requests, and a token that
 * fails as a failed login (rate-limited and coalesced in the audit trail).
 */
export function liveGuard(o: { proxies: TrustedProxies; rateLimit: { perMinute: number; loginPerMinute: number }; trail: AuditTrail; log: LogLike; path: string }) {
  const handshakes = new WindowLimiter(o.rateLimit.perMinute);
  const failures = new WindowLimiter(o.rateLimit.loginPerMinute);
  return {
    admit(req: IncomingMessage): string | undefined {
      const addr = o.proxies.clientAddress(req);
      if (!handshakes.hit(addr)) return `too many requests from ${addr}: at most ${handshakes.max} a minute; retry in ${handshakes.retryAfterS(addr)} s`;
      if (failures.exceeded(addr)) return `too many logins from ${addr}: at most ${failures.max} a minute; retry in ${failures.retryAfterS(addr)} s`;
      return undefined;
    },
    wrongToken(req: IncomingMessage): void {
      const address = o.proxies.clientAddress(req).slice(0, 64) || 'unknown';
      failures.hit(address);
      try {
        o.trail.record({ principal: 'anonymous', via: null, address, action: 'live_login_failed', method: 'GET', route: o.path, status: 401, detail: 'wrong token on the live feed' });
      } catch (err) {
        o.log.error({ err: String(err) }, 'audit write failed');
      }
    },
  };
}
