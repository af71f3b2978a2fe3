import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LogLike } from '@hsfl/protocol';
import type { AuditInput, Store } from '../store/index.js';
import type { Access } from './auth.js';
import type { RequestFacts } from './facts.js';

export interface AuditOptions {
  /** Repeats of a refused request within this window grow one row's count (default 60 s). */
  windowMs?: number;
  /**
   * New rows for refused requests per window, over all addresses (default
   * 100). Beyond it, refusals fold into one row per action with address '*',
   * so that many addresses cannot fill the store either.
   */
  rowsPerWindow?: number;
}

interface Pending {
  rowId: number;
  count: number;
  written: number;
  windowStart: number;
  lastAt: number;
  entry: AuditInput;
}

const SAFE_TARGET = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * The audit trail: who did what through the API, when, and how it ended;
 * stored (table `audit`) and logged. An action that went through, by a
 * caller who proved who it is, is one row. Everything else (wrong tokens,
 * refused or rate-limited requests, anonymous no-ops) is coalesced: the
 * first in a window is a row at once and repeats with the same action,
 * principal, address and status only grow its count, written when the
 * window ends, before the trail is read, and at close. So a flood costs at
 * most `rowsPerWindow` rows (plus one per action for the rest) a window.
 */
export class AuditTrail {
  readonly windowMs: number;
  readonly rowsPerWindow: number;
  private readonly pending = new Map<string, Pending>();
  private budgetStart = 0;
  private budgetUsed = 0;
  private lastSweep = 0;

  constructor(private readonly store: Store, private readonly log: LogLike, o: AuditOptions = {}) {
    this.windowMs = o.windowMs ?? 60_000;
    this.rowsPerWindow = o.rowsPerWindow ?? 100;
    if (!(this.windowMs >= 1) || !Number.isSafeInteger(this.rowsPerWindow) || this.rowsPerWindow < 1) {
      throw new Error(`audit window must be >= 1 ms and rows per window a whole number >= 1 (got ${this.windowMs}, ${this.rowsPerWindow})`);
    }
  }

  /** Records one answered request; `noop`: it changed nothing, so it is coalesced like a refusal. */
  record(e: AuditInput, noop = false): void {
    if (e.status < 400 && e.principal !== 'anonymous' && !noop) this.append(e, 'info');
    else this.coalesce(e);
  }

  /** Writes the counts that grew since their row was written. */
  flush(): void {
    const dirty = [...this.pending.values()].filter((p) => p.count !== p.written);
    // One transaction (one fsync) for all of them, not one per row.
    if (dirty.length) this.store.transaction(() => dirty.forEach((p) => this.flushOne(p)));
  }

  close(): void {
    this.flush();
    this.pending.clear();
  }

  private append(e: AuditInput, level: 'info' | 'warn'): number {
    const id = this.store.appendAudit(e);
    const who = `${e.principal}${e.via ? ` (${e.via})` : ''} from ${e.address}`;
    this.log[level]({ audit: { id, ...e } }, `audit: ${who}: ${e.action}${e.target ? ` ${e.target}` : ''} -> ${e.status}`);
    return id;
  }

  private coalesce(e: AuditInput): void {
    const now = Date.now();
    if (now - this.lastSweep >= 1000) this.sweep(now);
    if (now - this.budgetStart >= this.windowMs) {
      this.budgetStart = now;
      this.budgetUsed = 0;
    }
    const key = [e.action, e.principal, e.address, e.status].join('|');
    if (this.hit(key, now)) return;
    if (this.budgetUsed < this.rowsPerWindow) {
      this.budgetUsed++;
      this.start(key, e, now);
      return;
    }
    const folded: AuditInput = { ...e, address: '*', via: null, target: null, detail: 'many addresses: folded into one row' };
    const foldKey = [e.action, e.principal, '*', e.status].join('|');
    if (!this.hit(foldKey, now)) this.start(foldKey, folded, now);
  }

  /** Counts a repeat into a live window; false when there is none (an ended one is written out first). */
  private hit(key: string, now: number): boolean {
    const p = this.pending.get(key);
    if (!p) return false;
    if (now - p.windowStart < this.windowMs) {
      p.count++;
      p.lastAt = now;
      return true;
    }
    this.flushOne(p);
    this.pending.delete(key);
    return false;
  }

  private start(key: string, e: AuditInput, now: number): void {
    const entry = { ...e, at: now, count: 1 };
    const rowId = this.append(entry, 'warn');
    this.pending.set(key, { rowId, count: 1, written: 1, windowStart: now, lastAt: now, entry });
  }

  private flushOne(p: Pending): void {
    if (p.count === p.written) return;
    this.store.setAuditCount(p.rowId, p.count, p.lastAt);
    this.log.warn({ audit: { id: p.rowId, ...p.entry, count: p.count, lastAt: p.lastAt } },
      `audit: ${p.count}x ${p.entry.action} -> ${p.entry.status} from ${p.entry.address} since ${new Date(p.windowStart).toISOString()}`);
    p.written = p.count;
  }

  /** Writes out and forgets windows that ended, so memory stays bounded. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, p] of this.pending) {
      if (now - p.windowStart < this.windowMs) continue;
      this.flushOne(p);
      this.pending.delete(key);
    }
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * What the trail records of each answered request: routes that name an
 * audit action (login, logout, controls), every other admin route, wrong
 * bearer tokens anywhere, and rate-limited requests anywhere.
 */
export function registerAudit(app: FastifyInstance, trail: AuditTrail, facts: RequestFacts, log: LogLike): void {
  app.addHook('onResponse', async (req, reply) => {
    try {
      const e = auditEntry(req, reply.statusCode, facts);
      if (e) trail.record(e, facts.get(req)?.note?.noop === true);
    } catch (err) {
      // The answer is already sent; a failing audit write must not take the API down with it.
      log.error({ err: String(err), url: req.url }, 'audit write failed');
    }
  });
}

function auditEntry(req: FastifyRequest, status: number, facts: RequestFacts): AuditInput | undefined {
  const f = facts.get(req);
  if (!f) return undefined;
  const cfg = (req.routeOptions.config ?? {}) as { access?: Access; audit?: string };
  const route = (req.routeOptions.url ?? '(no route)').slice(0, 200);
  let action: string | undefined = cfg.audit;
  if (!action && cfg.access === 'admin' && UNSAFE.has(req.method)) action = `${req.method} ${route}`.slice(0, 64);
  if (action === 'login' && status === 401) action = 'login_failed';
  if (!action && status === 401 && req.headers.authorization !== undefined) action = 'bad_token';
  if (!action && status === 429) action = 'rate_limited';
  if (!action) return undefined;
  const params = (req.params ?? {}) as { id?: unknown };
  const rawTarget = f.note?.target ?? params.id;
  const target = typeof rawTarget === 'string' ? (SAFE_TARGET.test(rawTarget) ? rawTarget : '(invalid)') : null;
  return {
    principal: f.note?.principal ?? f.identity?.role ?? 'anonymous',
    via: f.note?.via ?? f.identity?.via ?? null,
    address: f.address.slice(0, 64) || 'unknown',
    action,
    method: req.method.slice(0, 16),
    route,
    target,
    status,
    detail: f.note?.detail ?? f.error ?? null,
  };
}
