// The coordinator's own TLS certificate (id "cloud"), issued by the project
// CA and kept beside it. Reissued when missing, when it does not cover the
// host names asked for, or when it is about to expire, so that rotating it
// is a restart (docs/security.md).
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CLOUD_ID } from '@hsfl/protocol';
import type { ServerCredential } from '@hsfl/tier-engine';
import type { ProjectCa } from './ca.js';

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** Names a browser or node on this machine may use for the coordinator, plus the operator's. */
export function defaultServerHosts(extra: string[] = [], bindHost?: string): string[] {
  const hosts = ['localhost', '127.0.0.1', '::1', hostname(), ...extra];
  if (bindHost && bindHost !== '0.0.0.0' && bindHost !== '::') hosts.push(bindHost);
  return [...new Set(hosts.filter((h) => /^[A-Za-z0-9.:-]{1,253}$/.test(h)))];
}

function covers(certPem: string, hosts: string[]): boolean {
  const cert = new X509Certificate(certPem);
  return hosts.every((h) => (h.includes(':') || /^\d+(\.\d+){3}$/.test(h) ? cert.checkIP(h) : cert.checkHost(h)) !== undefined);
}

export function serverCredential(ca: ProjectCa, hosts: string[], now = Date.now()): ServerCredential & { reissued: boolean } {
  const certPath = join(ca.dir, 'cloud.crt');
  const keyPath = join(ca.dir, 'cloud.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    const x = new X509Certificate(cert);
    const fresh = Date.parse(x.validTo) - now > RENEW_BEFORE_MS;
    if (fresh && x.verify(new X509Certificate(ca.certPem).publicKey) && covers(cert, hosts)) return { caCert: ca.certPem, cert, key, reissued: false };
  }
  const issued = ca.issue({ role: 'cloud', id: CLOUD_ID, hosts });
  writeFileSync(keyPath, issued.keyPem, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  writeFileSync(certPath, issued.certPem);
  return { caCert: ca.certPem, cert: issued.certPem, key: issued.keyPem, reissued: true };
}
