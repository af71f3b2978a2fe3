// TLS settings of both link halves, from a node's bundle or a server's
// credential. Clients pin the project CA (no system roots, never
// NODE_TLS_REJECT_UNAUTHORIZED); servers ask every client for a certificate
// but let the handshake finish without one, so that the hello can be
// answered with a readable refusal instead of a bare TLS alert.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { NodeBundle } from './node-bundle.js';
import { parentCertificateProblem, verifyChildCertificate, type ChildCertificateCheck } from './node-identity.js';

/** A server's credential: the project CA it trusts and its own certificate and key (PEM). */
export interface ServerCredential {
  caCert: string;
  cert: string;
  key: string;
}

export function serverTlsOptions(c: ServerCredential): { ca: string[]; cert: string; key: string; requestCert: true; rejectUnauthorized: false; minVersion: 'TLSv1.2' } {
  return { ca: [c.caCert], cert: c.cert, key: c.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' };
}

export interface ClientTls {
  ca: string[];
  cert: string;
  key: string;
  rejectUnauthorized: true;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

/** What a node passes to socket.io-client: the pinned CA, its credential, and the check of its parent's identity. */
export function clientTlsOptions(bundle: Pick<NodeBundle, 'caCert' | 'cert' | 'key'>, expect: { role: 'edge' | 'cloud'; id?: string }): ClientTls {
  return {
    ca: [bundle.caCert], cert: bundle.cert, key: bundle.key, rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => parentCertificateProblem(cert, expect),
  };
}

/** The TLS socket under a socket.io server socket, when the connection is TLS. */
export function tlsSocketOf(socket: { request?: { socket?: unknown } }): TLSSocket | undefined {
  const s = socket.request?.socket as Partial<TLSSocket> | undefined;
  return s && typeof s.getPeerCertificate === 'function' && s.encrypted ? (s as TLSSocket) : undefined;
}

/** verifyChildCertificate on what a connection's TLS layer says (a connection without TLS has no certificate). */
export function verifySocketCertificate(
  socket: { request?: { socket?: unknown } },
  check: Omit<ChildCertificateCheck, 'authorized' | 'authorizationError' | 'cert'>,
): { id: string; serial: string } {
  const tls = tlsSocketOf(socket);
  return verifyChildCertificate({ ...check, authorized: tls?.authorized ?? false, authorizationError: tls?.authorizationError, cert: tls?.getPeerCertificate() });
}

/**
 * A readable cause for a failed connection to a parent, for the node's log:
 * the raw errors (socket hang up, unable to verify...) do not say what to do.
 */
export function explainConnectError(err: unknown, secure: boolean): string {
  const e = err as { message?: string; description?: { message?: string; code?: string }; code?: string } | undefined;
  const text = [e?.message, e?.description?.message, e?.description?.code, e?.code].filter(Boolean).join(' ');
  if (/wrong version number|packet length too long|EPROTO/i.test(text) && secure) return `${text}: the server does not speak TLS (was it started with --insecure?)`;
  if (/self[- ]signed|unable to verify|unable to get (local )?issuer|certificate signature failure/i.test(text)) return `${text}: the server's certificate is not from this project's CA (wrong bundle, or wrong server?)`;
  if (/not a (device|edge|cloud)|not "|without an hsfl identity/i.test(text)) return `${text}: connected to the wrong server`;
  if (/certificate (revoked|unknown)|bad certificate|unknown ca|alert/i.test(text)) return `${text}: the server refused this node's certificate (revoked, or issued by another project)`;
  if (/400|requires TLS|speaks only TLS/i.test(text) && !secure) return `${text}: the server requires TLS: connect with https:// and an enrollment bundle`;
  return text || String(err);
}
