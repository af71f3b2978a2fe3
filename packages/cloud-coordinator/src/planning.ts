import type { Topology, DeviceNode, EdgeNode, ComputeProfile } from '@hsfl/planner';
import { modelProfile } from '@hsfl/runtime';

/** A node's measured capacity as the coordinator keeps it (a decoded CapacityReport). */
export interface CapacitySnapshot {
  nodeId: string;
  role: 'device' | 'edge' | 'cloud';
  parentId: string;
  backend: string;
  host: string;
  model: string;
  batchSize: number;
  fwdMsPerSample: number[];
  bwdMsPerSample: number[];
  peakBytes: number[];
  memTotalBytes: number;
  memFreeBytes: number;
  upBytesPerSec: number;
  downBytesPerSec: number;
  rttMs: number;
  cpus: number;
  measuredAtMs: number;
}

export interface FleetShape {
  edges: { id: string; devices: { id: string; samples: number }[] }[];
}

const compute = (c: CapacitySnapshot): ComputeProfile => ({ fwdMsPerSample: [...c.fwdMsPerSample], bwdMsPerSample: [...c.bwdMsPerSample] });

/**
 * The planner's view of the federation: the model's static profile and, for
 * every connected node, what it measured of itself. Nodes without a report
 * for this model are listed in `missing` and left out.
 */
export function buildTopology(
  model: string,
  batchSize: number,
  fleet: FleetShape,
  capacity: ReadonlyMap<string, CapacitySnapshot>,
  cloudId = 'cloud',
): { topology: Topology; missing: string[] } {
  const profile = modelProfile(model);
  const missing: string[] = [];
  const usable = (id: string) => {
    const c = capacity.get(id);
    if (!c || c.model !== model || c.fwdMsPerSample.length !== profile.units.length) {
      missing.push(id);
      return undefined;
    }
    return c;
  };
  const cloud = usable(cloudId);
  const edges: EdgeNode[] = [];
  const devices: DeviceNode[] = [];
  for (const e of fleet.edges) {
    const ec = usable(e.id);
    if (!ec) continue;
    edges.push({
      id: e.id, compute: compute(ec), memFreeBytes: ec.memFreeBytes,
      link: { upBytesPerSec: ec.upBytesPerSec, downBytesPerSec: ec.downBytesPerSec, rttMs: ec.rttMs },
    });
    for (const d of e.devices) {
      const dc = usable(d.id);
      if (!dc) continue;
      devices.push({
        id: d.id, edgeId: e.id, compute: compute(dc), memFreeBytes: dc.memFreeBytes, samples: d.samples,
        link: { upBytesPerSec: dc.upBytesPerSec, downBytesPerSec: dc.downBytesPerSec, rttMs: dc.rttMs },
      });
    }
  }
  const L = profile.units.length;
  const topology: Topology = {
    model: {
      name: model,
      inputBytesPerSample: profile.inputBytesPerSample,
      labelBytesPerSample: profile.labelBytesPerSample,
      units: profile.units.map((u) => ({ name: u.name, paramBytes: u.paramBytes, outputBytesPerSample: u.outputBytesPerSample, flopsPerSample: u.flopsPerSample })),
      memPerSampleBytes: profile.memPerSampleBytes,
    },
    batchSize,
    devices,
    edges,
    cloud: { compute: cloud ? compute(cloud) : { fwdMsPerSample: new Array(L).fill(0), bwdMsPerSample: new Array(L).fill(0) } },
  };
  return { topology, missing };
}

/** Parses a stored capacity report (JSON) back into a snapshot; undefined if it is not one. */
export function snapshotFromJson(v: unknown): CapacitySnapshot | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Partial<CapacitySnapshot>;
  if (typeof o.nodeId !== 'string' || !Array.isArray(o.fwdMsPerSample) || !Array.isArray(o.bwdMsPerSample) || typeof o.model !== 'string') return undefined;
  return o as CapacitySnapshot;
}
