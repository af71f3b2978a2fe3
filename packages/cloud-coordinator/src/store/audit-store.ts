// The audit trail of operator actions (table `audit`, migration 3): append a
// row, grow the count of a coalesced one, list newest first.
import { StoreError } from './errors.js';
import { CheckpointStore } from './checkpoint-store.js';
import { AUDIT_PRINCIPALS, AUDIT_VIAS, type AuditRow } from './types.js';
import * as v from './validate.js';

/** Longest stored detail; longer text is cut (an audit row must not be lost over a long message). */
export const AUDIT_DETAIL_MAX = 500;
const DEFAULT_AUDIT_LIMIT = 100;
const MAX_AUDIT_LIMIT = 1000;

export type AuditInput = Omit<AuditRow, 'id' | 'at' | 'lastAt' | 'count' | 'target' | 'detail' | 'via'> & {
  at?: number;
  count?: number;
  via?: AuditRow['via'];
  target?: string | null;
  detail?: string | null;
};

interface AuditDb {
  id: number;
  at: number;
  last_at: number;
  count: number;
  principal: AuditRow['principal'];
  via: AuditRow['via'];
  address: string;
  action: string;
  method: string;
  route: string;
  target: string | null;
  status: number;
  detail: string | null;
}

function auditFromDb(r: AuditDb): AuditRow {
  return {
    id: r.id, at: r.at, lastAt: r.last_at, count: r.count, principal: r.principal, via: r.via, address: r.address,
    action: r.action, method: r.method, route: r.route, target: r.target, status: r.status, detail: r.detail,
  };
}

function cut(s: string | null, max: number): string | null {
  return s === null || s.length <= max ? s : s.slice(0, max - 1) + '…';
}

export class AuditStore extends CheckpointStore {
  /** Append an audit row; returns its id. Ids only ever increase. */
  appendAudit(e: AuditInput): number {
    return this.write('appendAudit', () => {
      if (e === null || typeof e !== 'object') throw new StoreError('INVALID_INPUT', 'appendAudit needs an audit entry object');
      const at = e.at === undefined ? Date.now() : v.time('at', e.at);
      const status = v.int('status', e.status, 100);
      if (status > 599) throw new StoreError('INVALID_INPUT', `status must be an HTTP status in [100, 599], got ${status}`);
      const row = {
        at,
        count: e.count === undefined ? 1 : v.int('count', e.count, 1),
        principal: v.oneOf('principal', e.principal, AUDIT_PRINCIPALS),
        via: e.via === null || e.via === undefined ? null : v.oneOf('via', e.via, AUDIT_VIAS),
        address: v.str('address', e.address, { nonEmpty: true, max: 64 }),
        action: v.str('action', e.action, { nonEmpty: true, max: 64 }),
        method: v.str('method', e.method, { nonEmpty: true, max: 16 }),
        route: v.str('route', e.route, { nonEmpty: true, max: 200 }),
        target: v.optStr('target', e.target, { nonEmpty: true, max: 128 }),
        status,
        detail: cut(v.optStr('detail', e.detail), AUDIT_DETAIL_MAX),
      };
      const res = this.stmt(
        `INSERT INTO audit (at, last_at, count, principal, via, address, action, method, route, target, status, detail)
         VALUES (@at, @at, @count, @principal, @via, @address, @action, @method, @route, @target, @status, @detail)`,
      ).run(row);
      return Number(res.lastInsertRowid);
    });
  }

  /** Set a coalesced row's count and the time of its latest attempt (never earlier than stored). Throws INVALID_INPUT for an unknown id. */
  setAuditCount(id: number, count: number, lastAt: number): void {
    this.write('setAuditCount', () => {
      const res = this.stmt('UPDATE audit SET count = ?, last_at = max(last_at, ?) WHERE id = ?').run(
        v.int('count', count, 1), v.time('lastAt', lastAt), v.int('audit id', id, 1),
      );
      if (res.changes === 0) throw new StoreError('INVALID_INPUT', `no audit row ${id}`);
    });
  }

  /** Newest first: the last `limit` rows (default 100, at most 1000), or those older than `beforeId`. */
  listAudit(opts: { limit?: number; beforeId?: number } = {}): AuditRow[] {
    return this.read('listAudit', () => {
      const limit = v.positiveLimit('limit', opts.limit) ?? DEFAULT_AUDIT_LIMIT;
      if (limit > MAX_AUDIT_LIMIT) throw new StoreError('INVALID_INPUT', `limit must be at most ${MAX_AUDIT_LIMIT}, got ${limit}`);
      const rows = opts.beforeId === undefined
        ? this.stmt('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit)
        : this.stmt('SELECT * FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?').all(v.int('beforeId', opts.beforeId, 1), limit);
      return (rows as AuditDb[]).map(auditFromDb);
    });
  }

  /** How many rows the audit table holds. */
  countAudit(): number {
    return this.read('countAudit', () => this.stmt('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
  }
}
