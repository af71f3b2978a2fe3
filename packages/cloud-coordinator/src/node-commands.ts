// The operator's commands for the project CA and node identities:
// `ca init|show`, `enroll`, `revoke`, `nodes`. They work on the store file
// and the CA directory directly, so they run whether or not a coordinator
// is serving; a running coordinator notices revocations within a second.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Store } from './store/index.js';
import { ProjectCa } from './pki/ca.js';
import { enrollNode, enrolledEvent, revokedEvent, writeBundleFile, type EnrollRequest } from './pki/enroll.js';

/** Where the CA lives unless --pki-dir says otherwise: beside the store. */
export function defaultPkiDir(db: string): string {
  return join(dirname(resolve(db)), 'pki');
}

export function caInitText(pkiDir: string): string {
  const ca = ProjectCa.create(pkiDir);
  return [
    `project CA created in ${ca.dir}`,
    `  ca.crt  the certificate every node pins and browsers may trust`,
    `  ca.key  its private key: keep it secret and backed up (whoever holds it can enroll nodes)`,
    `fingerprint (SHA-256): ${ca.fingerprint}`,
  ].join('\n');
}

export function caShowText(pkiDir: string): string {
  const ca = ProjectCa.load(pkiDir);
  return `project CA in ${ca.dir}\nfingerprint (SHA-256): ${ca.fingerprint}`;
}

function withStore<T>(db: string, fn: (store: Store) => T): T {
  if (!existsSync(db)) throw new Error(`no store at ${db} (start the coordinator once, or give --db)`);
  const store = Store.open(db);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** Enrolls a node and writes its bundle (owner-only permissions); returns what to tell the operator. */
export function enrollText(o: { db: string; pkiDir: string; out?: string; by: string } & EnrollRequest): string {
  const ca = ProjectCa.load(o.pkiDir);
  const store = Store.open(o.db);
  try {
    const { bundle } = enrollNode(store, ca, o, o.by);
    store.addEvent({ runId: null, ...enrolledEvent(o, o.by, bundle.serial) });
    const out = o.out ?? `${o.id}.hsfl.json`;
    writeBundleFile(out, bundle);
    const start = o.role === 'device' ? 'hsfl-device --bundle' : 'hsfl-edge --bundle';
    return [
      `${o.role} ${o.id} ${o.renew ? 'has a new credential (its earlier ones no longer work)' : 'enrolled'}${o.edge ? ` for edge ${o.edge}` : ''}; certificate ${bundle.serial}, valid until ${bundle.expiresAt}`,
      `bundle: ${resolve(out)} (secret: it holds the node's private key; copy it to the node over a trusted channel)`,
      `on the node: ${start} ${out.split('/').pop()}${bundle.parentUrl ? '' : ` ${o.role === 'device' ? '--edge https://<edge>:7100' : '--cloud https://<coordinator>:7000'}`}`,
    ].join('\n');
  } finally {
    store.close();
  }
}

export function revokeText(db: string, id: string, reason: string, by: string): string {
  return withStore(db, (store) => {
    const serials = store.transaction(() => {
      const s = store.revokeNode(id, reason);
      store.addEvent({ runId: null, ...revokedEvent(id, reason, by, s) });
      return s;
    });
    return `${id} revoked (${serials.length} credential${serials.length === 1 ? '' : 's'}); a running coordinator disconnects it within a second and it cannot rejoin`;
  });
}

export interface NodeListing {
  id: string;
  role: string;
  edge: string | null;
  state: 'revoked' | 'connected' | 'enrolled';
  enrolledAt: string;
  expiresAt: string | null;
  revokedReason: string | null;
}

/** What an enrolled node is now, given who is connected: the CLI's and the API's one rule. */
export function enrolledState(n: { id: string; revokedAt: number | null }, connected: ReadonlySet<string>): NodeListing['state'] {
  return n.revokedAt !== null ? 'revoked' : connected.has(n.id) ? 'connected' : 'enrolled';
}

/** Enrolled nodes with their state: revoked, connected (in the latest run's records) or only enrolled. */
export function listNodes(db: string): NodeListing[] {
  return withStore(db, (store) => {
    const latest = store.listRuns({ limit: 1 })[0];
    const connected = new Set(latest && latest.status === 'running' ? store.listNodes(latest.id).filter((n) => n.status === 'connected').map((n) => n.nodeId) : []);
    return store.enrolledNodes().map((n) => ({
      id: n.id, role: n.role, edge: n.edge,
      state: enrolledState(n, connected),
      enrolledAt: new Date(n.enrolledAt).toISOString(),
      expiresAt: n.expiresAt === null ? null : new Date(n.expiresAt).toISOString(),
      revokedReason: n.revokedReason,
    }));
  });
}

export function nodesText(db: string): string {
  const rows = listNodes(db);
  if (rows.length === 0) return 'no enrolled nodes (hsfl-coordinator enroll --role edge --id <id>)';
  const lines = rows.map((n) => [n.id.padEnd(20), n.role.padEnd(7), (n.edge ?? '-').padEnd(12), n.state.padEnd(10), n.expiresAt?.slice(0, 10) ?? '-', n.revokedReason ?? ''].join(' '));
  return ['id                   role    edge         state      expires    note', ...lines].join('\n');
}
