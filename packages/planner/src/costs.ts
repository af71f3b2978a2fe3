/**
 * Per-cut cost model: everything about a plan that depends only on the cuts
 * (c1, c2), computed once per cut pair from prefix sums. The latency model,
 * the optimizer and the oracle all read these numbers, so they agree exactly.
 */
import type { CriticalPath, Topology } from './types.js';

/** Time of one message of `bytes` over a link: bytes / rate + rtt / 2 (ms). */
export function transferMs(bytes: number, bytesPerSec: number, rttMs: number): number {
  return (bytes / bytesPerSec) * 1000 + rttMs / 2;
}

/** Critical-path pieces of one round for fixed cuts (aggregation excluded). */
export interface CutTimes {
  c1: number;
  c2: number;
  deviceFwd: number;
  deviceUp: number;
  edgeFwd: number;
  edgeUp: number;
  cloudCompute: number;
  edgeDown: number;
  edgeBwd: number;
  deviceDown: number;
  deviceBwd: number;
  /** Sum of the pieces above: the round's compute + communication time. */
  pathMs: number;
  /** Time of one device-tier aggregation (0 if nothing to aggregate). */
  aggDeviceMs: number;
  /** Time of one edge-tier aggregation (0 if nothing to aggregate). */
  aggEdgeMs: number;
  critical: CriticalPath;
}

function prefix(a: readonly number[]): Float64Array {
  const p = new Float64Array(a.length + 1);
  for (let i = 0; i < a.length; i++) p[i + 1] = p[i] + a[i];
  return p;
}

/** Default training memory per sample of a unit: 3x its output bytes. */
export const DEFAULT_MEM_PER_SAMPLE_FACTOR = 3;

export class CostModel {
  readonly topo: Topology;
  readonly L: number;
  readonly b: number;
  /** Devices grouped by edge; edges without devices take no part in rounds. */
  readonly groups: { edgeIndex: number; devices: number[] }[];
  readonly totalDevices: number;
  private readonly paramPre: Float64Array;
  private readonly memPre: Float64Array;
  private readonly devFwd: Float64Array[];
  private readonly devBwd: Float64Array[];
  private readonly edgeFwd: Float64Array[];
  private readonly edgeBwd: Float64Array[];
  private readonly cloudFwd: Float64Array;
  private readonly cloudBwd: Float64Array;
  private readonly minDeviceMem: number;
  private readonly cache = new Map<number, CutTimes>();

  constructor(topo: Topology) {
    this.topo = topo;
    const units = topo.model.units;
    this.L = units.length;
    this.b = topo.batchSize;
    this.paramPre = prefix(units.map((u) => u.paramBytes));
    const mem = topo.model.memPerSampleBytes ?? units.map((u) => DEFAULT_MEM_PER_SAMPLE_FACTOR * u.outputBytesPerSample);
    this.memPre = prefix(mem);
    this.devFwd = topo.devices.map((d) => prefix(d.compute.fwdMsPerSample));
    this.devBwd = topo.devices.map((d) => prefix(d.compute.bwdMsPerSample));
    this.edgeFwd = topo.edges.map((e) => prefix(e.compute.fwdMsPerSample));
    this.edgeBwd = topo.edges.map((e) => prefix(e.compute.bwdMsPerSample));
    this.cloudFwd = prefix(topo.cloud.compute.fwdMsPerSample);
    this.cloudBwd = prefix(topo.cloud.compute.bwdMsPerSample);
    const byEdge = new Map<string, number[]>();
    topo.devices.forEach((d, i) => {
      const list = byEdge.get(d.edgeId) ?? [];
      list.push(i);
      byEdge.set(d.edgeId, list);
    });
    this.groups = [];
    topo.edges.forEach((e, ei) => {
      const devs = byEdge.get(e.id);
      if (devs && devs.length > 0) this.groups.push({ edgeIndex: ei, devices: devs });
    });
    this.totalDevices = topo.devices.length;
    this.minDeviceMem = Math.min(...topo.devices.map((d) => d.memFreeBytes));
  }

  /** Parameter bytes of units [from, to). */
  params(from: number, to: number): number {
    return this.paramPre[to] - this.paramPre[from];
  }

  /** Bytes per sample crossing cut c (the raw input when c = 0). */
  actBytes(c: number): number {
    return c === 0 ? this.topo.model.inputBytesPerSample : this.topo.model.units[c - 1].outputBytesPerSample;
  }

  /** Copies of each tier's sub-model (a tier with <= 1 copy never diverges). */
  copies(): { device: number; edge: number } {
    return { device: this.totalDevices, edge: this.groups.length };
  }

  /** Memory a node needs to train units [from, to) on `samples` samples per round. */
  memNeed(from: number, to: number, samples: number): number {
    return 2 * this.params(from, to) + samples * (this.memPre[to] - this.memPre[from]);
  }

  /** Memory needed on every device for a given c1. */
  deviceMemNeed(c1: number): number {
    return this.memNeed(0, c1, this.b);
  }

  /**
   * The first memory constraint a cut pair violates, or null if it fits
   * everywhere: devices always, edges and the cloud when they report memory.
   */
  memoryViolation(c1: number, c2: number): string | null {
    const devNeed = this.deviceMemNeed(c1);
    if (devNeed > this.minDeviceMem) {
      const short = this.topo.devices.filter((x) => x.memFreeBytes < devNeed);
      const d = short.reduce((m, x) => (x.memFreeBytes < m.memFreeBytes ? x : m));
      const others = short.length > 1 ? ` (${short.length - 1} other device${short.length > 2 ? 's' : ''} too short as well)` : '';
      return `device ${JSON.stringify(d.id)} needs ${Math.ceil(devNeed)} B for units [0,${c1}) but has ${d.memFreeBytes} B free${others}`;
    }
    for (const g of this.groups) {
      const e = this.topo.edges[g.edgeIndex];
      if (e.memFreeBytes === undefined) continue;
      const need = this.memNeed(c1, c2, g.devices.length * this.b);
      if (need > e.memFreeBytes) {
        return `edge ${JSON.stringify(e.id)} needs ${Math.ceil(need)} B for units [${c1},${c2}) but has ${e.memFreeBytes} B free`;
      }
    }
    const cm = this.topo.cloud.memFreeBytes;
    if (cm !== undefined) {
      const need = this.memNeed(c2, this.L, this.totalDevices * this.b);
      if (need > cm) return `cloud needs ${Math.ceil(need)} B for units [${c2},${this.L}) but has ${cm} B free`;
    }
    return null;
  }

  fitsMemory(c1: number, c2: number): boolean {
    return this.memoryViolation(c1, c2) === null;
  }

  /** Round pieces along the critical path for cuts (c1, c2); cached. */
  cut(c1: number, c2: number): CutTimes {
    const key = c1 * (this.L + 1) + c2;
    let t = this.cache.get(key);
    if (!t) {
      t = this.computeCut(c1, c2);
      this.cache.set(key, t);
    }
    return t;
  }

  private computeCut(c1: number, c2: number): CutTimes {
    const { topo, b, L } = this;
    const labels = topo.model.labelBytesPerSample;
    const act1 = this.actBytes(c1);
    const act2 = this.actBytes(c2);
    const needDeviceGrad = c1 > 0; // devices hold units to back-propagate
    const needEdgeGrad = c2 > 0; // edges (or devices below them) hold units

    // Forward phase: the cloud starts when the last edge's output arrives.
    let cloudStart = -Infinity;
    let up = { d: -1, e: -1, devFwd: 0, devUp: 0, edgeFwd: 0, edgeUp: 0 };
    for (const g of this.groups) {
      const e = topo.edges[g.edgeIndex];
      let arrive = -Infinity;
      let slow = { d: -1, fwd: 0, up: 0 };
      for (const di of g.devices) {
        const d = topo.devices[di];
        const fwd = b * (this.devFwd[di][c1] - this.devFwd[di][0]);
        const upMs = transferMs(b * (act1 + labels), d.link.upBytesPerSec, d.link.rttMs);
        if (fwd + upMs > arrive) {
          arrive = fwd + upMs;
          slow = { d: di, fwd, up: upMs };
        }
      }
      const n = g.devices.length * b;
      const eFwd = n * (this.edgeFwd[g.edgeIndex][c2] - this.edgeFwd[g.edgeIndex][c1]);
      const eUp = transferMs(n * (act2 + labels), e.link.upBytesPerSec, e.link.rttMs);
      if (arrive + eFwd + eUp > cloudStart) {
        cloudStart = arrive + eFwd + eUp;
        up = { d: slow.d, e: g.edgeIndex, devFwd: slow.fwd, devUp: slow.up, edgeFwd: eFwd, edgeUp: eUp };
      }
    }
    const N = this.totalDevices * b;
    const cloudCompute = N * (this.cloudFwd[L] - this.cloudFwd[c2] + this.cloudBwd[L] - this.cloudBwd[c2]);

    // Backward phase: gradients flow down; the round ends with the last device.
    let finish = -Infinity;
    let down = { d: -1, e: -1, edgeDown: 0, edgeBwd: 0, devDown: 0, devBwd: 0 };
    for (const g of this.groups) {
      const e = topo.edges[g.edgeIndex];
      const n = g.devices.length * b;
      const eDown = needEdgeGrad ? transferMs(n * act2, e.link.downBytesPerSec, e.link.rttMs) : 0;
      const eBwd = n * (this.edgeBwd[g.edgeIndex][c2] - this.edgeBwd[g.edgeIndex][c1]);
      for (const di of g.devices) {
        const d = topo.devices[di];
        const dDown = needDeviceGrad ? transferMs(b * act1, d.link.downBytesPerSec, d.link.rttMs) : 0;
        const dBwd = b * (this.devBwd[di][c1] - this.devBwd[di][0]);
        if (eDown + eBwd + dDown + dBwd > finish) {
          finish = eDown + eBwd + dDown + dBwd;
          down = { d: di, e: g.edgeIndex, edgeDown: eDown, edgeBwd: eBwd, devDown: dDown, devBwd: dBwd };
        }
      }
    }

    // Aggregation. Device tier: devices -> edge (pre-average) -> cloud -> edge -> devices.
    const P1 = this.params(0, c1);
    let aggDeviceMs = 0;
    if (c1 > 0 && P1 > 0 && this.totalDevices > 1) {
      let upPhase = 0;
      let downPhase = 0;
      for (const g of this.groups) {
        const e = topo.edges[g.edgeIndex];
        let devUp = 0;
        let devDown = 0;
        for (const di of g.devices) {
          const l = topo.devices[di].link;
          devUp = Math.max(devUp, transferMs(P1, l.upBytesPerSec, l.rttMs));
          devDown = Math.max(devDown, transferMs(P1, l.downBytesPerSec, l.rttMs));
        }
        upPhase = Math.max(upPhase, devUp + transferMs(P1, e.link.upBytesPerSec, e.link.rttMs));
        downPhase = Math.max(downPhase, transferMs(P1, e.link.downBytesPerSec, e.link.rttMs) + devDown);
      }
      aggDeviceMs = upPhase + downPhase;
    }
    // Edge tier: edges -> cloud -> edges.
    const P2 = this.params(c1, c2);
    let aggEdgeMs = 0;
    if (c2 > c1 && P2 > 0 && this.groups.length > 1) {
      let upPhase = 0;
      let downPhase = 0;
      for (const g of this.groups) {
        const l = topo.edges[g.edgeIndex].link;
        upPhase = Math.max(upPhase, transferMs(P2, l.upBytesPerSec, l.rttMs));
        downPhase = Math.max(downPhase, transferMs(P2, l.downBytesPerSec, l.rttMs));
      }
      aggEdgeMs = upPhase + downPhase;
    }

    const pathMs = cloudStart + cloudCompute + finish;
    return {
      c1, c2,
      deviceFwd: up.devFwd,
      deviceUp: up.devUp,
      edgeFwd: up.edgeFwd,
      edgeUp: up.edgeUp,
      cloudCompute,
      edgeDown: down.edgeDown,
      edgeBwd: down.edgeBwd,
      deviceDown: down.devDown,
      deviceBwd: down.devBwd,
      pathMs,
      aggDeviceMs,
      aggEdgeMs,
      critical: {
        upDeviceId: topo.devices[up.d].id,
        upEdgeId: topo.edges[up.e].id,
        downEdgeId: topo.edges[down.e].id,
        downDeviceId: topo.devices[down.d].id,
      },
    };
  }
}
