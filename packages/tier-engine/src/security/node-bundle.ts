// The one file an operator hands a node (DESIGN §4b): where to connect,
// the project CA to pin, and the node's credential (its certificate and
// private key). It is a secret: whoever holds it is that node.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isNodeId } from '@hsfl/protocol';
import { certificateIdentity, normalSerial } from './node-identity.js';

export const BUNDLE_KIND = 'hsfl-node-bundle';

export interface NodeBundle {
  kind: typeof BUNDLE_KIND;
  version: 1;
  id: string;
  role: 'device' | 'edge';
  /** The edge a device is enrolled for. */
  edge?: string;
  /** Where the node connects: its edge (devices) or the coordinator (edges); the CLI's flag overrides it. */
  parentUrl?: string;
  /** PEM of the project CA the node pins. */
  caCert: string;
  /** PEM of the node's certificate and its private key. */
  cert: string;
  key: string;
  serial: string;
  /** ISO date the certificate expires. */
  expiresAt: string;
}

/** Days before expiry from which a node warns at start. */
export const EXPIRY_WARNING_DAYS = 30;

function str(o: Record<string, unknown>, k: string, optional = false): string | undefined {
  const v = o[k];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 64 * 1024) throw new Error(`the bundle's "${k}" must be a non-empty string`);
  return v;
}

/**
 * Checks a bundle as parsed from JSON: fields, that the certificate was
 * issued by the bundled CA, belongs to the key, names this id and role, and
 * has not expired. Returns the bundle and warnings (expiring soon).
 */
export function checkNodeBundle(raw: unknown, now = Date.now()): { bundle: NodeBundle; warnings: string[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('a bundle is a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.kind !== BUNDLE_KIND) throw new Error(`not an hsfl node bundle (kind must be "${BUNDLE_KIND}")`);
  if (o.version !== 1) throw new Error(`bundle version ${String(o.version)} is not supported by this hsfl (expects 1)`);
  const id = str(o, 'id')!;
  if (!isNodeId(id)) throw new Error('the bundle\'s id is not a valid node id');
  const role = o.role;
  if (role !== 'device' && role !== 'edge') throw new Error('the bundle\'s role must be "device" or "edge"');
  const edge = str(o, 'edge', true);
  if (edge !== undefined && (role !== 'device' || !isNodeId(edge))) throw new Error('only a device bundle names an edge, by a valid id');
  const parentUrl = str(o, 'parentUrl', true);
  if (parentUrl !== undefined && !/^https:\/\/[^\s]+$/.test(parentUrl)) throw new Error('the bundle\'s parentUrl must be an https:// address');
  const caCert = str(o, 'caCert')!;
  const cert = str(o, 'cert')!;
  const key = str(o, 'key')!;
  let ca: X509Certificate;
  let mine: X509Certificate;
  try {
    ca = new X509Certificate(caCert);
    mine = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`the bundle's certificates do not parse (${(err as Error).message})`);
  }
  if (!mine.verify(ca.publicKey)) throw new Error('the bundle\'s certificate was not issued by the bundled CA');
  try {
    if (!mine.checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
  } catch {
    throw new Error('the bundle\'s key does not belong to its certificate');
  }
  const who = certificateIdentity({ subjectaltname: mine.subjectAltName });
  if (!who || who.id !== id || who.role !== role || who.edge !== edge) throw new Error(`the bundle's certificate is not for the ${role} "${id}"`);
  const expires = Date.parse(mine.validTo);
  if (expires <= now) throw new Error(`the bundle's certificate expired on ${new Date(expires).toISOString()}: ask the operator to renew it (hsfl-coordinator enroll --renew)`);
  const warnings: string[] = [];
  const days = (expires - now) / 86400000;
  if (days < EXPIRY_WARNING_DAYS) warnings.push(`the node certificate expires in ${Math.floor(days)} days (${new Date(expires).toISOString()}): renew it with hsfl-coordinator enroll --renew`);
  const bundle: NodeBundle = {
    kind: BUNDLE_KIND, version: 1, id, role, caCert, cert, key, serial: normalSerial(mine.serialNumber), expiresAt: new Date(expires).toISOString(),
  };
  if (edge !== undefined) bundle.edge = edge;
  if (parentUrl !== undefined) bundle.parentUrl = parentUrl;
  return { bundle, warnings };
}

/** Reads and checks a bundle file; warns when it is readable by others than its owner. */
export function readNodeBundle(path: string): { bundle: NodeBundle; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the bundle ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not JSON: is it an hsfl node bundle?`);
  }
  let checked: { bundle: NodeBundle; warnings: string[] };
  try {
    checked = checkNodeBundle(raw);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    checked.warnings.push(`${path} is readable by other users; it holds this node's private key (chmod 600 ${path})`);
  }
  return checked;
}
