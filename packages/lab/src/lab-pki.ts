// A local or network-namespace trial enrolls its own nodes (docs/security.md):
// the project CA beside the trial's store, one bundle per node in the
// trial's log directory, renewed when a trial reuses the store.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectCa, Store, defaultPkiDir, enrollNode, writeBundleFile } from '@hsfl/cloud-coordinator';

export interface LabNode {
  id: string;
  role: 'device' | 'edge';
  edge?: string;
}

/** Enrolls every node (renewing those a previous trial on this store enrolled); returns each node's bundle path. */
export function enrollLabNodes(db: string, bundleDir: string, nodes: LabNode[]): Map<string, string> {
  const ca = ProjectCa.loadOrCreate(defaultPkiDir(db));
  mkdirSync(bundleDir, { recursive: true, mode: 0o700 });
  const store = Store.open(db);
  const paths = new Map<string, string>();
  try {
    for (const n of nodes) {
      const known = store.enrolledNode(n.id);
      const { bundle } = enrollNode(store, ca, { role: n.role, id: n.id, edge: n.edge, renew: known !== undefined }, 'the lab trial');
      const path = join(bundleDir, `${n.id}.hsfl.json`);
      writeBundleFile(path, bundle);
      paths.set(n.id, path);
    }
  } finally {
    store.close();
  }
  return paths;
}

/**
 * How a trial's processes secure their links: under TLS ('tls', the
 * default) the trial enrolls each node (on first use) and passes its bundle;
 * 'insecure' passes the shared token over plain http.
 */
export class LabIdentities {
  private readonly bundles = new Map<string, string>();

  constructor(private readonly db: string, private readonly logDir: string, private readonly token: string, readonly secure: boolean) {}

  /** Enrolls these nodes now (one store transaction each) rather than one by one at start. */
  enroll(nodes: LabNode[]): void {
    if (!this.secure) return;
    const todo = nodes.filter((n) => !this.bundles.has(n.id));
    for (const [id, path] of enrollLabNodes(this.db, join(this.logDir, 'bundles'), todo)) this.bundles.set(id, path);
  }

  coordinatorArgs(): string[] {
    return this.secure ? ['--pki-dir', defaultPkiDir(this.db)] : ['--insecure', '--token', this.token];
  }

  /** The flags that connect `node` to its parent at host:port. */
  nodeArgs(node: LabNode, hostPort: string): string[] {
    const parentFlag = node.role === 'edge' ? '--cloud' : '--edge';
    if (!this.secure) return ['--insecure', '--token', this.token, '--id', node.id, parentFlag, `http://${hostPort}`];
    this.enroll([node]);
    return ['--bundle', this.bundles.get(node.id)!, parentFlag, `https://${hostPort}`];
  }
}
