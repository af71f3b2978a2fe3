import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './view-types.js';

/** Who a caller is (defined with the API's view types, which the dashboard shares). */
export type { Role };

/** What a route needs: nothing, any valid token (read), or the admin token (control). */
export type Access = 'public' | 'viewer' | 'admin';

export const SESSION_COOKIE = 'hsfl_session';
const MIN_TOKEN_LENGTH = 8;
const MAX_TOKEN_LENGTH = 512;
/** Sessions each principal (admin, viewer) may hold at once; a login beyond it ends that principal's oldest. */
export const DEFAULT_SESSIONS_PER_ROLE = 50;
const ROLES: readonly Role[] = ['admin', 'viewer'];

/** A fresh random token: 24 bytes, hex (192 bits). */
export function generateToken(): string {
  return randomBytes(24).toString('hex');
}

/** Problems with an operator token, as readable lines (empty when fine). */
export function tokenProblems(name: string, token: string): string[] {
  if (typeof token !== 'string') return [`${name} must be a string`];
  if (token.length < MIN_TOKEN_LENGTH) return [`${name} must be at least ${MIN_TOKEN_LENGTH} characters`];
  if (token.length > MAX_TOKEN_LENGTH) return [`${name} must be at most ${MAX_TOKEN_LENGTH} characters`];
  if (!/^[\x21-\x7e]+$/.test(token)) return [`${name} must be printable ASCII without spaces`];
  return [];
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

interface Session {
  role: Role;
  expiresAt: number;
  /** The session's CSRF token: cookie-authenticated control requests must echo it in X-CSRF-Token. */
  csrf: Buffer;
}

/** Who a request is, as far as authentication goes. */
export interface Identified {
  role: Role;
  via: 'bearer' | 'session';
  /** The session id, when `via` is 'session'. */
  sid?: string;
}

/**
 * Operator authentication. Two bearer tokens (admin and viewer) and, for
 * browsers, opaque session ids handed out by the login route in an httpOnly
 * cookie. Sessions live in memory: a coordinator restart logs browsers out.
 *
 * Sessions are bounded per principal, not in total: a full principal gives
 * up its own oldest session, so whoever holds the viewer token cannot log
 * the admin out by logging in over and over.
 */
export class Auth {
  private readonly admin: Buffer;
  private readonly viewer: Buffer;
  /** Per role, in creation order (a Map keeps insertion order): the oldest is first. */
  private readonly sessions: Record<Role, Map<string, Session>> = { admin: new Map(), viewer: new Map() };

  constructor(
    adminToken: string,
    viewerToken: string,
    readonly sessionTtlMs = 12 * 3600 * 1000,
    readonly sessionsPerRole = DEFAULT_SESSIONS_PER_ROLE,
  ) {
    const problems = [...tokenProblems('admin token', adminToken), ...tokenProblems('viewer token', viewerToken)];
    if (adminToken === viewerToken) problems.push('the admin and viewer tokens must differ');
    if (!Number.isSafeInteger(sessionsPerRole) || sessionsPerRole < 1) problems.push(`sessions per role must be a whole number >= 1 (got ${sessionsPerRole})`);
    if (problems.length) throw new Error(problems.join('; '));
    this.admin = digest(adminToken);
    this.viewer = digest(viewerToken);
  }

  /** The role a token grants, compared in constant time. */
  roleForToken(token: string | undefined): Role | undefined {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const d = digest(token);
    if (timingSafeEqual(d, this.admin)) return 'admin';
    if (timingSafeEqual(d, this.viewer)) return 'viewer';
    return undefined;
  }

  createSession(role: Role): { id: string; expiresAt: number; csrfToken: string } {
    const mine = this.sessions[role];
    this.prune(mine);
    while (mine.size >= this.sessionsPerRole) {
      const oldest = mine.keys().next().value;
      if (oldest === undefined) break;
      mine.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32);
    const expiresAt = Date.now() + this.sessionTtlMs;
    mine.set(id, { role, expiresAt, csrf });
    return { id, expiresAt, csrfToken: csrf.toString('base64url') };
  }

  private session(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    for (const role of ROLES) {
      const s = this.sessions[role].get(id);
      if (!s) continue;
      if (s.expiresAt <= Date.now()) {
        this.sessions[role].delete(id);
        return undefined;
      }
      return s;
    }
    return undefined;
  }

  roleForSession(id: string | undefined): Role | undefined {
    return this.session(id)?.role;
  }

  /** The CSRF token of a live session (what GET /api/session hands the dashboard after a reload). */
  csrfToken(id: string | undefined): string | undefined {
    return this.session(id)?.csrf.toString('base64url');
  }

  /** Whether `token` is the CSRF token of the live session `id` (constant time). */
  checkCsrf(id: string | undefined, token: unknown): boolean {
    const s = this.session(id);
    if (!s || typeof token !== 'string' || token.length > 128) return false;
    // Compared as digests: equal lengths for timingSafeEqual, and no lenient base64 decoding of what was sent.
    return timingSafeEqual(digest(token), digest(s.csrf.toString('base64url')));
  }

  destroySession(id: string | undefined): void {
    if (!id) return;
    for (const role of ROLES) this.sessions[role].delete(id);
  }

  /** Live sessions of a role (for tests and metrics). */
  sessionCount(role: Role): number {
    this.prune(this.sessions[role]);
    return this.sessions[role].size;
  }

  /** Identifies a caller from an Authorization header or a session cookie value (the header wins). */
  identify(authorization: string | undefined, sessionId: string | undefined): Identified | undefined {
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      const role = m ? this.roleForToken(m[1]) : undefined;
      return role ? { role, via: 'bearer' } : undefined;
    }
    const role = this.roleForSession(sessionId);
    return role ? { role, via: 'session', sid: sessionId } : undefined;
  }

  private prune(sessions: Map<string, Session>): void {
    const now = Date.now();
    for (const [id, s] of sessions) if (s.expiresAt <= now) sessions.delete(id);
  }
}

/** Whether a role may use a route of the given access level. */
export function allowed(role: Role | undefined, access: Access): boolean {
  if (access === 'public') return true;
  if (!role) return false;
  return access === 'viewer' || role === 'admin';
}
