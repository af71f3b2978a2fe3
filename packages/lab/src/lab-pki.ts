// A local or network-namespace trial enrolls its own nodes (docs/security.md):
// the project CA beside the trial's store, one bundle per node in the
// trial's log directory, renewed when a trial reuses the store.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectCa, Store, defaultPkiDir, enrollNode } from '@hsfl/cloud-coordinator';

export interface LabNode {
  id: string;
  role: 'device' | 'edge';
  edge?: string;
}

/** Where the trial's coordinator keeps its CA (what it would choose itself for this store). */
export function labPkiDir(db: string): string {
  return defaultPkiDir(db);
}

/** Enrolls every node (renewing those a previous trial on this store enrolled); returns each node's bundle path. */
export function enrollLabNodes(db: string, bundleDir: string, nodes: LabNode[]): Map<string, string> {
  const ca = ProjectCa.loadOrCreate(labPkiDir(db));
  mkdirSync(bundleDir, { recursive: true, mode: 0o700 });
  const store = Store.open(db);
  const paths = new Map<string, string>();
  try {
    for (const n of nodes) {
      const known = store.enrolledNode(n.id);
      const { bundle } = enrollNode(store, ca, { role: n.role, id: n.id, edge: n.edge, renew: known !== undefined }, 'the lab trial');
      const path = join(bundleDir, `${n.id}.hsfl.json`);
      writeFileSync(path, JSON.stringify(bundle), { mode: 0o600 });
      chmodSync(path, 0o600);
      paths.set(n.id, path);
    }
  } finally {
    store.close();
  }
  return paths;
}
