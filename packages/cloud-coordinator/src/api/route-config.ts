// What a route's `config` may say, declared to Fastify (the rate-limit and
// helmet plugins add their own fields to the same interface).
import type { Access } from './auth.js';

/** Route options the guard and the audit trail read (`config` of each route). */
export interface RouteGuardConfig {
  /** Who may call it (default: viewer under /api/, public elsewhere). */
  access?: Access;
  /** The login route: its own, tighter rate limit, and no CSRF token (the caller has no session yet). */
  login?: boolean;
  /** The audit trail's name of what the route does (e.g. run_created); admin routes without one are recorded as method and route. */
  audit?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig extends RouteGuardConfig {}
}
