// Enrolled nodes and their credentials (DESIGN §4b): who may join, with
// which certificate, and what the operator revoked. The link servers ask
// `credentialValid` on every hello; edges get `revokedSerials`.
import { StoreError } from './errors.js';
import { AuditStore } from './audit-store.js';
import * as v from './validate.js';

export type EnrolledRole = 'device' | 'edge';

export interface EnrolledNode {
  id: string;
  role: EnrolledRole;
  edge: string | null;
  enrolledAt: number;
  enrolledBy: string;
  revokedAt: number | null;
  revokedReason: string | null;
  /** Serial and expiry of the newest credential that is not revoked, if any. */
  serial: string | null;
  expiresAt: number | null;
}

export interface CredentialInput {
  serial: string;
  issuedAt: number;
  expiresAt: number;
}

interface EnrolledDb {
  id: string;
  role: EnrolledRole;
  edge: string | null;
  enrolled_at: number;
  enrolled_by: string;
  revoked_at: number | null;
  revoked_reason: string | null;
  serial: string | null;
  expires_at: number | null;
}

const ENROLLED_SELECT = `
  SELECT n.*, c.serial, c.expires_at FROM enrolled_nodes n
  LEFT JOIN node_credentials c ON c.serial = (
    SELECT serial FROM node_credentials WHERE node_id = n.id AND revoked_at IS NULL ORDER BY issued_at DESC, serial LIMIT 1)`;

function fromDb(r: EnrolledDb): EnrolledNode {
  return {
    id: r.id, role: r.role, edge: r.edge, enrolledAt: r.enrolled_at, enrolledBy: r.enrolled_by,
    revokedAt: r.revoked_at, revokedReason: r.revoked_reason, serial: r.serial, expiresAt: r.expires_at,
  };
}

function serialOf(s: unknown): string {
  const serial = v.str('serial', s, { nonEmpty: true, max: 64 });
  if (!/^[0-9A-F]+$/.test(serial)) throw new StoreError('INVALID_INPUT', 'serial must be upper-case hex');
  return serial;
}

export class EnrollmentStore extends AuditStore {
  /**
   * Enrolls a node with its first credential. An id taken by any role is
   * refused ('DUPLICATE_NODE'); a revoked id too ('REVOKED') unless `renew`,
   * which also serves to rotate a live node's credential: every earlier
   * credential of the node is revoked and the node is reinstated.
   */
  enrollNode(n: { id: string; role: EnrolledRole; edge?: string | null; by: string; renew?: boolean }, cred: CredentialInput): EnrolledNode {
    return this.write('enrollNode', () => {
      const id = v.str('id', n.id, { nonEmpty: true, max: 64 });
      const role = v.oneOf('role', n.role, ['device', 'edge'] as const);
      const edge = n.edge == null ? null : v.str('edge', n.edge, { nonEmpty: true, max: 64 });
      if (edge !== null && role !== 'device') throw new StoreError('INVALID_INPUT', 'only a device is enrolled for an edge');
      const by = v.str('enrolled by', n.by, { nonEmpty: true, max: 200 });
      const serial = serialOf(cred.serial);
      const issuedAt = v.time('issuedAt', cred.issuedAt);
      const expiresAt = v.time('expiresAt', cred.expiresAt);
      const now = Date.now();
      const existing = this.stmt('SELECT * FROM enrolled_nodes WHERE id = ?').get(id) as EnrolledDb | undefined;
      if (existing) {
        if (!n.renew) {
          if (existing.revoked_at !== null) throw new StoreError('REVOKED', `${id} was revoked; enroll it again with --renew (a new credential)`);
          throw new StoreError('DUPLICATE_NODE', `the id ${id} is already enrolled as a ${existing.role}; ids are unique across roles (renew its credential with --renew)`);
        }
        if (existing.role !== role) throw new StoreError('DUPLICATE_NODE', `the id ${id} belongs to a ${existing.role}; it cannot be renewed as a ${role}`);
        this.stmt('UPDATE node_credentials SET revoked_at = ? WHERE node_id = ? AND revoked_at IS NULL').run(now, id);
        this.stmt('UPDATE enrolled_nodes SET edge = ?, revoked_at = NULL, revoked_reason = NULL WHERE id = ?').run(edge, id);
      } else {
        this.stmt('INSERT INTO enrolled_nodes (id, role, edge, enrolled_at, enrolled_by) VALUES (?, ?, ?, ?, ?)').run(id, role, edge, now, by);
      }
      this.stmt('INSERT INTO node_credentials (serial, node_id, issued_at, expires_at) VALUES (?, ?, ?, ?)').run(serial, id, issuedAt, expiresAt);
      return fromDb(this.stmt(`${ENROLLED_SELECT} WHERE n.id = ?`).get(id) as EnrolledDb);
    });
  }

  /** Revokes a node and all its credentials; returns the serials newly revoked. Revoking twice changes nothing. */
  revokeNode(id: string, reason: string): string[] {
    return this.write('revokeNode', () => {
      v.str('id', id, { nonEmpty: true, max: 64 });
      const text = v.str('reason', reason, { max: 200 });
      const row = this.stmt('SELECT revoked_at FROM enrolled_nodes WHERE id = ?').get(id) as { revoked_at: number | null } | undefined;
      if (!row) throw new StoreError('UNKNOWN_NODE', `no enrolled node ${id}`);
      const now = Date.now();
      const serials = (this.stmt('SELECT serial FROM node_credentials WHERE node_id = ? AND revoked_at IS NULL').all(id) as { serial: string }[]).map((r) => r.serial);
      this.stmt('UPDATE node_credentials SET revoked_at = ? WHERE node_id = ? AND revoked_at IS NULL').run(now, id);
      if (row.revoked_at === null) this.stmt('UPDATE enrolled_nodes SET revoked_at = ?, revoked_reason = ? WHERE id = ?').run(now, text, id);
      return serials;
    });
  }

  enrolledNode(id: string): EnrolledNode | undefined {
    const r = this.read('enrolledNode', () => this.stmt(`${ENROLLED_SELECT} WHERE n.id = ?`).get(v.str('id', id, { max: 64 })) as EnrolledDb | undefined);
    return r && fromDb(r);
  }

  enrolledNodes(): EnrolledNode[] {
    return this.read('enrolledNodes', () => (this.stmt(`${ENROLLED_SELECT} ORDER BY n.role DESC, n.id`).all() as EnrolledDb[]).map(fromDb));
  }

  /** Whether `serial` is a live credential of the node `id` of `role`: issued to it, not revoked, not expired. */
  credentialValid(id: string, role: EnrolledRole, serial: string, now = Date.now()): boolean {
    return this.read('credentialValid', () => {
      const r = this.stmt(
        `SELECT 1 FROM node_credentials c JOIN enrolled_nodes n ON n.id = c.node_id
         WHERE c.serial = ? AND n.id = ? AND n.role = ? AND c.revoked_at IS NULL AND n.revoked_at IS NULL AND c.expires_at > ?`,
      ).get(serial, id, role, now);
      return r !== undefined;
    });
  }

  /** Serials of revoked credentials that have not expired (an expired certificate fails on its own). */
  revokedSerials(now = Date.now()): string[] {
    return this.read('revokedSerials', () =>
      (this.stmt('SELECT serial FROM node_credentials WHERE revoked_at IS NOT NULL AND expires_at > ? ORDER BY serial').all(now) as { serial: string }[]).map((r) => r.serial));
  }

  /** Changes whenever a credential is revoked (also by another process on the same file): polled to act on revocations at once. */
  revocationStamp(): string {
    return this.read('revocationStamp', () => {
      const r = this.stmt('SELECT count(*) AS n, max(revoked_at) AS t FROM node_credentials WHERE revoked_at IS NOT NULL').get() as { n: number; t: number | null };
      return `${r.n}:${r.t ?? 0}`;
    });
  }
}
