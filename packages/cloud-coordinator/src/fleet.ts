// The coordinator's fleet: the edges connected to it (the tier engine's
// child links) and the devices each edge reports, with what the store keeps
// about them.
import {
  EVENTS, ProtocolError, checkNodeId, CLOUD_ID, MAX_DEVICES_PER_EDGE, Role,
  type ByteTotals, type LogLike, type Mailbox, type MessageOf,
} from '@hsfl/protocol';
import { ChildLinks, MAX_REMOVED_IDS, addBounded, type ChildLink, type ChildLinksOptions, type LinkLimits, type RefusalReport } from '@hsfl/tier-engine';
import type { Store } from './store/index.js';

export interface DeviceInfo {
  id: string;
  edgeId: string;
  backend: string;
  samples: number;
  host: string;
}

export interface EdgeInfo {
  id: string;
  host: string;
  backend: string;
  devices: DeviceInfo[];
}

export interface FleetOptions {
  token: string;
  /** TLS identities: replaces the token check (see Enrollment.authenticateEdge). */
  authenticate?: ChildLinksOptions['authenticate'];
  log: LogLike;
  mailbox: Mailbox;
  store: Store;
  maxBytes: () => number;
  transportBytes?: number;
  totals: ByteTotals;
  /** The run in progress, for the store's node rows. */
  runId: () => string | undefined;
  event: (level: 'info' | 'warn', kind: string, message: string, nodeId?: string) => void;
  onEdgeJoin: (link: ChildLink) => void;
  onEdgeLeave: (link: ChildLink, reason: string) => void;
  /** Anything in the topology changed. */
  onChange: () => void;
  /** Nodes (an edge, or its devices) left the fleet. */
  onNodesLeft?: (ids: string[]) => void;
  /** Most edges joined at once (default DEFAULT_MAX_EDGES); one more is refused with 'limit'. */
  maxEdges?: number;
  /** A connection that has not said hello by then is closed (default 5 s). */
  helloTimeoutMs?: number;
  /** Overrides of the edge port's limits (DEFAULT_LINK_LIMITS; docs/protocol.md, "Limits"). */
  linkLimits?: Partial<LinkLimits>;
}

/**
 * Default most edges one coordinator serves: it bounds what the coordinator
 * keeps per edge (links, device lists, capacity reports) together with
 * MAX_DEVICES_PER_EDGE.
 */
export const DEFAULT_MAX_EDGES = 256;

/** The store event for a refusal report: one line with the counts by kind and the busiest sources. */
export function refusalEventText(r: RefusalReport): string {
  const kinds = Object.entries(r.byKind).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} x${n}`).join(', ');
  const top = r.top.slice(0, 3).map((t) => `${t.source} (${t.kind} x${t.count})`).join(', ');
  return `refused ${r.total} edge connection${r.total === 1 ? '' : 's'} in the last ${Math.round(r.intervalMs / 1000)} s: ${kinds}; busiest: ${top}`;
}

export class Fleet {
  readonly links: ChildLinks;
  private readonly devices = new Map<string, Map<string, DeviceInfo>>();
  /** Devices the operator removed from the run in progress (the latest MAX_REMOVED_IDS): their leaving is not a disconnect. */
  private readonly removed = new Set<string>();
  readonly maxEdges: number;

  constructor(private readonly o: FleetOptions) {
    this.maxEdges = o.maxEdges ?? DEFAULT_MAX_EDGES;
    this.links = new ChildLinks({
      childName: 'edge', role: Role.ROLE_EDGE, token: o.token, authenticate: o.authenticate, log: o.log, mailbox: o.mailbox,
      maxBytes: o.maxBytes, transportBytes: o.transportBytes, totals: o.totals,
      helloTimeoutMs: o.helloTimeoutMs, limits: o.linkLimits,
      // At most one stored event per interval, however many connections were refused.
      onRefusals: (r) => o.event('warn', 'join_refused', refusalEventText(r)),
      admit: (hello, replacing) => {
        // Ids are unique across tiers: an edge may not take a device's id.
        if (this.edgeOfDevice(hello.nodeId) !== undefined) throw new ProtocolError('duplicate_id', `${hello.nodeId} is a device's id`);
        if (!replacing && this.links.all.size >= this.maxEdges) throw new ProtocolError('limit', `this coordinator already serves ${this.maxEdges} edges`);
      },
      onJoin: (link) => {
        this.devices.set(link.id, new Map());
        this.record(link);
        o.event('info', 'node_joined', `edge ${link.id} joined`, link.id);
        o.onEdgeJoin(link);
        o.onChange();
      },
      onLeave: (link, reason) => {
        const devs = this.devices.get(link.id);
        this.devices.delete(link.id);
        const runId = o.runId();
        if (runId) {
          o.store.setNodeStatus(runId, link.id, 'disconnected');
          for (const id of devs?.keys() ?? []) o.store.setNodeStatus(runId, id, 'disconnected');
        }
        o.event('warn', 'node_left', `edge ${link.id} left: ${reason.slice(0, 200)}`, link.id);
        o.onNodesLeft?.([link.id, ...(devs?.keys() ?? [])]);
        o.onEdgeLeave(link, reason);
        o.onChange();
      },
    });
    this.links.on(EVENTS.nodeStatus, (link, m) => this.onNodeStatus(link, m));
  }

  get edgeCount(): number {
    return this.links.all.size;
  }

  get deviceCount(): number {
    let n = 0;
    for (const d of this.devices.values()) n += d.size;
    return n;
  }

  /** A new run begins: nobody is removed from it yet. */
  newRun(): void {
    this.removed.clear();
  }

  /** Records that the operator removed a device (its status stays 'removed' when it leaves). */
  markRemoved(deviceId: string): void {
    addBounded(this.removed, deviceId, MAX_REMOVED_IDS);
    const runId = this.o.runId();
    if (runId) this.o.store.setNodeStatus(runId, deviceId, 'removed');
  }

  edge(id: string): ChildLink | undefined {
    return this.links.get(id);
  }

  hasDevice(edgeId: string, deviceId: string): boolean {
    return this.devices.get(edgeId)?.has(deviceId) ?? false;
  }

  edgeOfDevice(deviceId: string): string | undefined {
    for (const [edgeId, devs] of this.devices) if (devs.has(deviceId)) return edgeId;
    return undefined;
  }

  topology(): EdgeInfo[] {
    return [...this.links.all.values()]
      .map((e) => ({ id: e.id, host: e.hello.host, backend: e.hello.backend, devices: [...(this.devices.get(e.id)?.values() ?? [])].sort((a, b) => a.id.localeCompare(b.id)) }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Writes an edge and its devices to the store's node table of the run in progress. */
  record(link: ChildLink): void {
    const runId = this.o.runId();
    if (!runId) return;
    this.o.store.upsertNode({ runId, nodeId: link.id, role: 'edge', parentId: CLOUD_ID, backend: link.hello.backend, host: link.hello.host, status: 'connected', samples: null });
    for (const d of this.devices.get(link.id)?.values() ?? []) {
      this.o.store.upsertNode({ runId, nodeId: d.id, role: 'device', parentId: link.id, backend: d.backend, host: d.host, status: 'connected', samples: d.samples });
    }
  }

  private onNodeStatus(link: ChildLink, m: MessageOf<typeof EVENTS.nodeStatus>): void {
    const id = checkNodeId(m.nodeId, 'device id');
    if (m.role !== Role.ROLE_DEVICE) throw new ProtocolError('malformed', 'edges report devices only');
    const devs = this.devices.get(link.id)!;
    const runId = this.o.runId();
    if (m.connected) {
      const known = devs.has(id);
      if (!known && devs.size >= MAX_DEVICES_PER_EDGE) throw new ProtocolError('limit', 'too many devices under one edge');
      if (!known && (this.links.get(id) || id === CLOUD_ID)) throw new ProtocolError('duplicate_id', `${id} is an edge's id`);
      // A device that moved to this edge before its old edge noticed it left.
      const before = known ? undefined : this.edgeOfDevice(id);
      if (before !== undefined) this.devices.get(before)!.delete(id);
      if (!Number.isSafeInteger(m.numSamples) || m.numSamples < 0) throw new ProtocolError('malformed', 'numSamples must be a whole number >= 0');
      devs.set(id, { id, edgeId: link.id, backend: m.backend.slice(0, 64), samples: m.numSamples, host: m.host.slice(0, 128) });
      if (runId) this.o.store.upsertNode({ runId, nodeId: id, role: 'device', parentId: link.id, backend: m.backend.slice(0, 64), host: m.host.slice(0, 128), status: 'connected', samples: m.numSamples });
      if (!known) this.o.event('info', 'node_joined', `device ${id} joined edge ${link.id}`, id);
    } else {
      if (!devs.delete(id)) {
        // A device its edge refused to let train this run (its data does not fit the model): say so once.
        if (m.reason.startsWith('refused: ')) this.o.event('warn', 'device_refused', `device ${id} cannot join edge ${link.id}: ${m.reason.slice(9, 300)}`, id);
        return;
      }
      if (runId && !this.removed.has(id)) this.o.store.setNodeStatus(runId, id, 'disconnected');
      this.o.event('warn', 'node_left', `device ${id} left edge ${link.id}: ${m.reason.slice(0, 200)}`, id);
      this.o.onNodesLeft?.([id]);
    }
    this.o.onChange();
  }
}
