import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './view-types.js';

/** Who a caller is (defined with the API's view types, which the dashboard shares). */
export type { Role };

/** What a route needs: nothing, any valid token (read), or the admin token (control). */
export type Access = 'public' | 'viewer' | 'admin';

export const SESSION_COOKIE = 'hsfl_session';
const MIN_TOKEN_LENGTH = 8;
const MAX_TOKEN_LENGTH = 512;
const MAX_SESSIONS = 1000;

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
}

/**
 * Operator authentication. Two bearer tokens (admin and viewer) and, for
 * browsers, opaque session ids handed out by the login route in an httpOnly
 * cookie. Sessions live in memory: a coordinator restart logs browsers out.
 */
export class Auth {
  private readonly admin: Buffer;
  private readonly viewer: Buffer;
  private readonly sessions = new Map<string, Session>();

  constructor(adminToken: string, viewerToken: string, readonly sessionTtlMs = 12 * 3600 * 1000) {
    const problems = [...tokenProblems('admin token', adminToken), ...tokenProblems('viewer token', viewerToken)];
    if (adminToken === viewerToken) problems.push('the admin and viewer tokens must differ');
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

  createSession(role: Role): { id: string; expiresAt: number } {
    this.prune();
    if (this.sessions.size >= MAX_SESSIONS) {
      // Drop the oldest (Map keeps insertion order).
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const expiresAt = Date.now() + this.sessionTtlMs;
    this.sessions.set(id, { role, expiresAt });
    return { id, expiresAt };
  }

  roleForSession(id: string | undefined): Role | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= Date.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s.role;
  }

  destroySession(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Identifies a caller from an Authorization header or a session cookie value (the header wins). */
  identify(authorization: string | undefined, sessionId: string | undefined): { role: Role; via: 'bearer' | 'session' } | undefined {
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      const role = m ? this.roleForToken(m[1]) : undefined;
      return role ? { role, via: 'bearer' } : undefined;
    }
    const role = this.roleForSession(sessionId);
    return role ? { role, via: 'session' } : undefined;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/** Whether a role may use a route of the given access level. */
export function allowed(role: Role | undefined, access: Access): boolean {
  if (access === 'public') return true;
  if (!role) return false;
  return access === 'viewer' || role === 'admin';
}
