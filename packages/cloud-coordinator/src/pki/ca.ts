// The project CA (DESIGN §4b): a self-signed root the coordinator creates
// once and keeps next to its store, which issues every node's certificate
// and the servers' (the coordinator's, each edge's). Keys come from Node's
// crypto (native, fast); node-forge builds and signs the X.509 structures,
// which Node's crypto cannot do.
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { CLOUD_ID, isNodeId } from '@hsfl/protocol';
import { identityUri, type CertRole } from '@hsfl/tier-engine';

const DAY_MS = 24 * 3600 * 1000;
/** The root lives long: replacing it means re-enrolling every node (docs/security.md, rotation). */
const CA_VALID_DAYS = 3650;
export const NODE_VALID_DAYS = 365;

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** Upper-case hex, as Node's X509Certificate and getPeerCertificate() print it. */
  serial: string;
  issuedAt: number;
  expiresAt: number;
}

export interface IssueRequest {
  role: CertRole;
  id: string;
  /** The edge a device is bound to (it may join only that edge). */
  edge?: string;
  /** Host names and IP addresses a server certificate is valid for (browsers check these). */
  hosts?: string[];
  validDays?: number;
}

function newRsaKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** 16 random bytes, top bit clear so that DER keeps it positive and 16 bytes long. */
function newSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10;
  return b.toString('hex');
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Loads the CA kept in `dir`, or creates it there (ca.key readable by the owner only). */
export class ProjectCa {
  private constructor(
    readonly dir: string,
    readonly certPem: string,
    private readonly cert: forge.pki.Certificate,
    private readonly key: forge.pki.rsa.PrivateKey,
    /** Whether this call created the CA. */
    readonly created: boolean,
  ) {}

  static certPath(dir: string): string {
    return join(dir, 'ca.crt');
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'ca.key')) && existsSync(join(dir, 'ca.crt'));
  }

  static load(dir: string): ProjectCa {
    const keyPath = join(dir, 'ca.key');
    const certPath = join(dir, 'ca.crt');
    if (!existsSync(keyPath) || !existsSync(certPath)) {
      throw new Error(`no project CA in ${dir}: run "hsfl-coordinator ca init" (or start the coordinator once) first`);
    }
    const certPem = readFileSync(certPath, 'utf8');
    const keyPem = readFileSync(keyPath, 'utf8');
    let cert: forge.pki.Certificate;
    let key: forge.pki.rsa.PrivateKey;
    try {
      cert = forge.pki.certificateFromPem(certPem);
      key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
    } catch (err) {
      throw new Error(`the project CA in ${dir} is unreadable (${(err as Error).message}); restore ca.key and ca.crt from your backup`);
    }
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) {
      throw new Error(`the project CA in ${dir} is inconsistent: ca.key does not belong to ca.crt`);
    }
    return new ProjectCa(dir, certPem, cert, key, false);
  }

  /** Creates a CA in `dir`; refuses to overwrite one (that would orphan every enrolled node). */
  static create(dir: string, projectName = 'hsfl'): ProjectCa {
    if (ProjectCa.exists(dir)) throw new Error(`${dir} already holds a project CA; refusing to replace it (every enrolled node trusts it)`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privatePem, publicPem } = newRsaKey();
    const key = forge.pki.privateKeyFromPem(privatePem) as forge.pki.rsa.PrivateKey;
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
    cert.serialNumber = newSerialHex();
    const now = Date.now();
    cert.validity.notBefore = new Date(now - 3600 * 1000);
    cert.validity.notAfter = new Date(now + CA_VALID_DAYS * DAY_MS);
    const subject = [
      { name: 'commonName', value: `${projectName} project CA` },
      { name: 'organizationName', value: projectName },
      { shortName: 'OU', value: `ca-${randomBytes(4).toString('hex')}` },
    ];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(key, forge.md.sha256.create());
    const certPem = forge.pki.certificateToPem(cert);
    writeSecret(join(dir, 'ca.key'), privatePem);
    writeFileSync(join(dir, 'ca.crt'), certPem);
    return new ProjectCa(dir, certPem, cert, key, true);
  }

  static loadOrCreate(dir: string): ProjectCa {
    return ProjectCa.exists(dir) ? ProjectCa.load(dir) : ProjectCa.create(dir);
  }

  /** SHA-256 fingerprint of the root, for operators to compare out of band. */
  get fingerprint(): string {
    return new X509Certificate(this.certPem).fingerprint256;
  }

  /**
   * A certificate for one node or server: subject CN = id, OU = role, and a
   * URI SAN (urn:hsfl:<role>:<id>[:edge:<edge>]) that the link servers read
   * the identity from; servers also get DNS/IP SANs for `hosts`.
   */
  issue(r: IssueRequest): IssuedCertificate {
    if (r.id !== CLOUD_ID && !isNodeId(r.id)) throw new Error(`bad id ${JSON.stringify(r.id)}: 1-64 characters of [A-Za-z0-9._:-]`);
    if ((r.id === CLOUD_ID) !== (r.role === 'cloud')) throw new Error(`the id "${CLOUD_ID}" belongs to the coordinator and only to it`);
    if (r.edge !== undefined && (r.role !== 'device' || !isNodeId(r.edge))) throw new Error('only a device is bound to an edge, by a valid edge id');
    const validDays = r.validDays ?? NODE_VALID_DAYS;
    if (!Number.isInteger(validDays) || validDays < 1 || validDays > CA_VALID_DAYS) throw new Error(`validity must be 1..${CA_VALID_DAYS} days`);
    const { privatePem, publicPem } = newRsaKey();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
    cert.serialNumber = newSerialHex();
    const issuedAt = Date.now();
    const expiresAt = Math.min(issuedAt + validDays * DAY_MS, this.cert.validity.notAfter.getTime());
    cert.validity.notBefore = new Date(issuedAt - 3600 * 1000);
    cert.validity.notAfter = new Date(expiresAt);
    cert.setSubject([
      { name: 'commonName', value: r.id },
      { shortName: 'OU', value: r.role },
      { name: 'organizationName', value: this.cert.subject.getField('O')?.value ?? 'hsfl' },
    ]);
    cert.setIssuer(this.cert.subject.attributes);
    const server = r.role !== 'device';
    const altNames: { type: number; value?: string; ip?: string }[] = [{ type: 6, value: identityUri(r.role, r.id, r.edge) }];
    for (const h of server ? r.hosts ?? [] : []) altNames.push(isIp(h) ? { type: 7, ip: h } : { type: 2, value: h });
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true, serverAuth: server },
      { name: 'subjectAltName', altNames },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.cert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(this.key, forge.md.sha256.create());
    const certPem = forge.pki.certificateToPem(cert);
    return { certPem, keyPem: privatePem, serial: new X509Certificate(certPem).serialNumber.toUpperCase(), issuedAt, expiresAt };
  }
}
