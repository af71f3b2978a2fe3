// Enrollment (DESIGN §4b): the operator names a node, the coordinator
// records it and issues its credential, and hands back the one-file bundle
// the node starts with. The CLI, the API and the local trial all enroll
// through here.
import { chmodSync, writeFileSync } from 'node:fs';
import { checkNodeId } from '@hsfl/protocol';
import { BUNDLE_KIND, type NodeBundle } from '@hsfl/tier-engine';
import type { Store, EnrolledNode } from '../store/index.js';
import { CoordinatorError } from '../errors.js';
import type { ProjectCa } from './ca.js';

export interface EnrollRequest {
  role: 'device' | 'edge';
  id: string;
  /** A device's edge: it may join that edge only. */
  edge?: string;
  /** Where the node connects (https://): its edge for a device, the coordinator for an edge. */
  parentUrl?: string;
  /** Issue a new credential for an enrolled (or revoked) node; its earlier ones stop working at once. */
  renew?: boolean;
  validDays?: number;
  /** An edge's host names / addresses, written into its server certificate. */
  hosts?: string[];
}

function bad(message: string): CoordinatorError {
  return new CoordinatorError('invalid', message);
}

/** Checks an enrollment request as it comes from a flag or a JSON body. */
export function checkEnrollRequest(r: EnrollRequest): EnrollRequest {
  if (r.role !== 'device' && r.role !== 'edge') throw bad('role must be "device" or "edge"');
  try {
    checkNodeId(r.id, 'id');
    if (r.edge !== undefined) checkNodeId(r.edge, 'edge');
  } catch (err) {
    throw bad((err as Error).message.replace(/^malformed: /, ''));
  }
  if (r.edge !== undefined && r.role !== 'device') throw bad('only a device is enrolled for an edge (--edge)');
  if (r.parentUrl !== undefined && (typeof r.parentUrl !== 'string' || !/^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(r.parentUrl) || r.parentUrl.length > 300)) {
    throw bad('the parent address must be an https:// URL (links are TLS; see docs/security.md)');
  }
  if (r.validDays !== undefined && (!Number.isInteger(r.validDays) || r.validDays < 1 || r.validDays > 3650)) throw bad('validity must be a whole number of days in [1, 3650]');
  for (const h of r.hosts ?? []) if (typeof h !== 'string' || !/^[A-Za-z0-9.:-]{1,253}$/.test(h)) throw bad(`bad host name ${JSON.stringify(h)}`);
  return r;
}

/** Records the node and issues its bundle; nothing is stored when a check fails. */
export function enrollNode(store: Store, ca: ProjectCa, request: EnrollRequest, by: string): { bundle: NodeBundle; node: EnrolledNode } {
  const r = checkEnrollRequest(request);
  if (r.edge !== undefined) {
    const edge = store.enrolledNode(r.edge);
    if (edge && edge.role !== 'edge') throw bad(`${r.edge} is enrolled as a ${edge.role}, not an edge`);
  }
  const issued = ca.issue({ role: r.role, id: r.id, edge: r.edge, hosts: r.hosts, validDays: r.validDays });
  let node: EnrolledNode;
  try {
    node = store.enrollNode({ id: r.id, role: r.role, edge: r.edge ?? null, by, renew: r.renew }, issued);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'DUPLICATE_NODE' || code === 'REVOKED') throw new CoordinatorError('conflict', (err as Error).message);
    throw err;
  }
  const bundle: NodeBundle = {
    kind: BUNDLE_KIND, version: 1, id: r.id, role: r.role, caCert: ca.certPem, cert: issued.certPem, key: issued.keyPem,
    serial: issued.serial, expiresAt: new Date(issued.expiresAt).toISOString(),
  };
  if (r.edge !== undefined) bundle.edge = r.edge;
  if (r.parentUrl !== undefined) bundle.parentUrl = r.parentUrl;
  return { bundle, node };
}

/** The event a node's identity change leaves in the log, the same whether the CLI or a serving coordinator made it. */
export interface IdentityEvent {
  level: 'info' | 'warn';
  kind: 'node_enrolled' | 'node_revoked';
  nodeId: string;
  message: string;
  data: Record<string, unknown>;
}

export function enrolledEvent(r: EnrollRequest, by: string, serial: string): IdentityEvent {
  return {
    level: 'info', kind: 'node_enrolled', nodeId: r.id,
    message: `${r.role} ${r.id} ${r.renew ? 'got a new credential' : 'enrolled'} by ${by}`, data: { serial, edge: r.edge ?? null },
  };
}

export function revokedEvent(id: string, reason: string, by: string, serials: string[]): IdentityEvent {
  return { level: 'warn', kind: 'node_revoked', nodeId: id, message: `${id} revoked by ${by}${reason ? `: ${reason}` : ''}`, data: { serials } };
}

/** Writes a bundle readable by its owner only (it holds the node's private key), even over an existing file. */
export function writeBundleFile(path: string, bundle: NodeBundle): void {
  writeFileSync(path, JSON.stringify(bundle, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}
