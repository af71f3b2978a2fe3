// The choice every node CLI makes the same way: TLS with the node's
// enrollment bundle (the default and the only way on a real network), or
// --insecure with a shared token, said loudly.
import { readNodeBundle, type NodeBundle } from './node-bundle.js';

export interface NodeSecurityFlags {
  bundle?: string;
  insecure: boolean;
  token?: string;
  /** The parent's address flag (--edge / --cloud), if given. */
  url?: string;
  /** The --id flag, if given. */
  id?: string;
}

export interface NodeSecurity {
  bundle?: NodeBundle;
  token?: string;
  url: string;
  id: string;
  warnings: string[];
}

export const INSECURE_WARNING =
  'INSECURE: --insecure links are plain http; the join token, the activations and the model cross the network readable by anyone on the path, and any holder of the token may join under any id. Use enrollment bundles (docs/security.md) anywhere but a trusted loopback or lab.';

/** Resolves the flags of `role`'s CLI into how it connects; throws an Error saying what to fix. */
export function resolveNodeSecurity(role: 'device' | 'edge', f: NodeSecurityFlags, defaultId: string): NodeSecurity {
  const urlFlag = role === 'device' ? '--edge' : '--cloud';
  if (f.bundle !== undefined && f.insecure) throw new Error('--bundle and --insecure exclude each other');
  if (f.bundle !== undefined) {
    if (f.token !== undefined) throw new Error('--token is for --insecure only: with a bundle the node proves its id with its certificate');
    const { bundle, warnings } = readNodeBundle(f.bundle);
    if (bundle.role !== role) throw new Error(`${f.bundle} is the bundle of the ${bundle.role} "${bundle.id}", not of a ${role}`);
    if (f.id !== undefined && f.id !== bundle.id) throw new Error(`--id ${f.id} differs from the bundle's id ${bundle.id} (a node's id is the one it was enrolled with)`);
    const url = f.url ?? bundle.parentUrl;
    if (url === undefined) throw new Error(`the bundle names no address to connect to: give ${urlFlag} https://...`);
    if (!/^https:\/\/[^\s]+$/.test(url)) throw new Error(`${urlFlag} must be an https:// address with a bundle (got ${url})`);
    return { bundle, url, id: bundle.id, warnings };
  }
  if (!f.insecure) {
    throw new Error(`give --bundle <file> (the node's enrollment bundle from "hsfl-coordinator enroll --role ${role} --id <id>"), or, on a trusted network only, --insecure --token <token>`);
  }
  if (f.token === undefined || f.token.length === 0) throw new Error('--insecure needs --token (the join token the parent expects)');
  if (f.url === undefined) throw new Error(`${urlFlag} is required with --insecure`);
  if (!/^http:\/\/[^\s]+$/.test(f.url)) throw new Error(`${urlFlag} must be an http:// address with --insecure (got ${f.url}); https:// needs a bundle`);
  return { token: f.token, url: f.url, id: f.id ?? defaultId, warnings: [INSECURE_WARNING] };
}
