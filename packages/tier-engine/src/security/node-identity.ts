// Who a peer is, read from its certificate (DESIGN §4b). The project CA
// writes the identity into a URI subject-alternative name,
// hsfl:<role>/<id>[?edge=<edge>]: ids never contain '/' or '?', so it parses
// without ambiguity. The link servers and clients decide with these pure
// functions, apart from sockets.
import { ProtocolError, isNodeId, CLOUD_ID } from '@hsfl/protocol';

export type CertRole = 'device' | 'edge' | 'cloud';
const ROLES: readonly CertRole[] = ['device', 'edge', 'cloud'];

export interface NodeIdentity {
  role: CertRole;
  id: string;
  /** The edge a device is enrolled for, when the operator bound it to one. */
  edge?: string;
}

/** What the link servers need of a peer certificate (the fields of Node's tls PeerCertificate). */
export interface PeerCertificateLike {
  subjectaltname?: string;
  serialNumber?: string;
}

export function identityUri(role: CertRole, id: string, edge?: string): string {
  return `hsfl:${role}/${id}${edge ? `?edge=${edge}` : ''}`;
}

/** The identity a certificate carries, or undefined when it carries none (or a malformed one). */
export function certificateIdentity(cert: PeerCertificateLike | undefined | null): NodeIdentity | undefined {
  const san = cert?.subjectaltname;
  if (typeof san !== 'string') return undefined;
  for (const entry of san.split(', ')) {
    const m = /^URI:hsfl:([a-z]+)\/([^?/]+)(?:\?edge=([^?/&]+))?$/.exec(entry);
    if (!m) continue;
    const role = m[1] as CertRole;
    const id = m[2]!;
    if (!ROLES.includes(role)) return undefined;
    if (role === 'cloud' ? id !== CLOUD_ID : !isNodeId(id) || id === CLOUD_ID) return undefined;
    if (m[3] !== undefined && (role !== 'device' || !isNodeId(m[3]))) return undefined;
    return m[3] !== undefined ? { role, id, edge: m[3] } : { role, id };
  }
  return undefined;
}

/** Serial numbers are compared as Node prints them: upper-case hex without leading zeros. */
export function normalSerial(serial: string): string {
  return serial.toUpperCase().replace(/^0+(?=.)/, '');
}

export interface ChildCertificateCheck {
  /** What the TLS layer says: whether the chain leads to the pinned project CA, and if not why. */
  authorized: boolean;
  authorizationError?: string | Error | null;
  cert: PeerCertificateLike | undefined | null;
  /** The id the hello claims. */
  helloId: string;
  /** The role this server serves. */
  expectRole: 'device' | 'edge';
  /** This server's own id, for devices bound to an edge. */
  serverId?: string;
  isRevoked: (serial: string, id: string) => boolean;
}

/**
 * The id a child proves with its certificate, or a ProtocolError saying
 * plainly why not: no certificate, one not issued by this project's CA,
 * one of another role, another id than the hello claims, another edge's
 * device, or a revoked credential.
 */
export function verifyChildCertificate(c: ChildCertificateCheck): { id: string; serial: string } {
  const cert = c.cert && Object.keys(c.cert).length > 0 ? c.cert : undefined;
  if (!cert) {
    throw new ProtocolError('unauthorized', 'this server admits enrolled nodes only: connect with your enrollment bundle (a client certificate of this project)');
  }
  if (!c.authorized) {
    const why = c.authorizationError instanceof Error ? c.authorizationError.message : String(c.authorizationError ?? 'unverified');
    throw new ProtocolError('unauthorized', `certificate refused (${why}): it was not issued by this project's CA, or has expired`);
  }
  const who = certificateIdentity(cert);
  if (!who) throw new ProtocolError('unauthorized', 'the certificate carries no hsfl node identity');
  if (who.role !== c.expectRole) {
    throw new ProtocolError('wrong_role', `the certificate is for the ${who.role} "${who.id}"; only ${c.expectRole}s join here`);
  }
  if (who.id !== c.helloId) {
    throw new ProtocolError('wrong_id', `the hello claims the id "${c.helloId.slice(0, 64)}" but the certificate is for "${who.id}"`);
  }
  const serial = normalSerial(String(cert.serialNumber ?? ''));
  if (c.isRevoked(serial, who.id)) {
    throw new ProtocolError('revoked', `the credential of ${who.id} was revoked by the operator`);
  }
  if (who.edge !== undefined && c.serverId !== undefined && who.edge !== c.serverId) {
    throw new ProtocolError('wrong_edge', `${who.id} is enrolled for the edge "${who.edge}", not "${c.serverId}"`);
  }
  return { id: who.id, serial };
}

/**
 * The client's check of its parent's certificate (after the chain to the
 * pinned CA verified): the parent must hold a certificate of the expected
 * role, and of the expected id when the node knows it. Host names are not
 * what identifies a parent here (edges move between addresses); the
 * certificate's identity is. Returns an Error to refuse, as tls wants.
 */
export function parentCertificateProblem(cert: PeerCertificateLike | undefined, expect: { role: 'edge' | 'cloud'; id?: string }): Error | undefined {
  const who = certificateIdentity(cert);
  if (!who) return new Error('the server presented a certificate without an hsfl identity');
  if (who.role !== expect.role) return new Error(`the server is the ${who.role} "${who.id}", not a ${expect.role}`);
  if (expect.id !== undefined && who.id !== expect.id) return new Error(`the server is the ${expect.role} "${who.id}", not "${expect.id}"`);
  return undefined;
}
