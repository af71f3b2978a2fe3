/**
 * Seeded random topologies for tests and benchmarks (deterministic for a seed).
 */
import type { DeviceNode, EdgeNode, SurrogateParams, Topology, UnitCost } from '../types.js';

/** Small fast seeded PRNG (mulberry32) returning floats in [0, 1). A copy by necessity: the planner depends on nothing; @hsfl/runtime has the same (data/random.ts), pinned to the same known answers. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomTopologyOptions {
  minDevices?: number;
  maxDevices?: number;
  minEdges?: number;
  maxEdges?: number;
  minUnits?: number;
  maxUnits?: number;
}

/**
 * 2-64 devices over 1-4 edges, 4-20 units; device speeds spread 10x, links
 * 100 kB/s - 100 MB/s (log-uniform), device memory set so that only cuts up to
 * a random c1 fit (sometimes only c1 = 0), edge memory sometimes limited too.
 */
export function randomTopology(seed: number, o: RandomTopologyOptions = {}): Topology {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const logU = (lo: number, hi: number) => Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo)));
  const uni = (lo: number, hi: number) => lo + rnd() * (hi - lo);

  const L = int(o.minUnits ?? 4, o.maxUnits ?? 20);
  const N = int(o.minDevices ?? 2, o.maxDevices ?? 64);
  const E = Math.min(N, int(o.minEdges ?? 1, o.maxEdges ?? 4));
  const batchSize = [8, 16, 32, 64][int(0, 3)];

  const units: UnitCost[] = [];
  const work: number[] = [];
  for (let j = 0; j < L; j++) {
    const paramless = rnd() < 0.15;
    units.push({
      name: `u${j}`,
      paramBytes: paramless ? 0 : Math.round(logU(1e3, 4e6)),
      outputBytesPerSample: Math.round(logU(40, 2e5)),
    });
    work.push(logU(0.005, 1));
  }
  const profile = (speed: number) => {
    const fwd = work.map((w) => w * speed * uni(0.8, 1.25));
    return { fwdMsPerSample: fwd, bwdMsPerSample: fwd.map((f) => f * uni(1.5, 2.5)) };
  };
  const link = (rttLo: number, rttHi: number) => ({
    upBytesPerSec: logU(1e5, 1e8),
    downBytesPerSec: logU(1e5, 1e8),
    rttMs: uni(rttLo, rttHi),
  });

  const model = { name: `random-${seed}`, inputBytesPerSample: Math.round(logU(100, 2e5)), labelBytesPerSample: int(1, 8), units };
  const mem3 = (from: number, to: number, samples: number) => {
    let s = 0;
    for (let j = from; j < to; j++) s += 2 * units[j].paramBytes + samples * 3 * units[j].outputBytesPerSample;
    return s;
  };
  // Largest c1 that fits on every device; occasionally none (only c1 = 0).
  const kDev = rnd() < 0.1 ? 0 : int(1, L);
  const devMemBase = kDev === 0 ? mem3(0, 1, batchSize) * 0.5 : mem3(0, kDev, batchSize);

  const edges: EdgeNode[] = [];
  for (let e = 0; e < E; e++) {
    edges.push({ id: `e${e}`, compute: profile(logU(0.05, 0.5)), link: link(2, 60) });
  }
  const devices: DeviceNode[] = [];
  for (let d = 0; d < N; d++) {
    const edgeId = d < E ? `e${d}` : `e${int(0, E - 1)}`;
    devices.push({
      id: `d${d}`,
      edgeId,
      compute: profile(logU(1, 10)),
      link: link(1, 80),
      memFreeBytes: Math.round(devMemBase * uni(1, 1.5)),
      samples: int(100, 5000),
    });
  }
  if (rnd() < 0.5) {
    // Edge memory: room for a random span of units for its devices' samples.
    for (const e of edges) {
      const n = devices.filter((d) => d.edgeId === e.id).length * batchSize;
      const from = int(0, L - 1);
      e.memFreeBytes = Math.round(mem3(from, int(from + 1, L), n) * uni(1, 2));
    }
  }
  const cloud = { compute: profile(logU(0.01, 0.05)) };
  return { model, batchSize, devices, edges, cloud };
}

/** Surrogate constants whose divergence term matters for intervals of ~2-30. */
export function randomSurrogate(seed: number, L: number): SurrogateParams {
  const rnd = mulberry32(seed ^ 0x9e3779b9);
  const logU = (lo: number, hi: number) => Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo)));
  const G2 = Array.from({ length: L }, () => logU(1e-3, 1));
  const eps = logU(0.05, 0.5);
  const A = eps * rnd() * 0.5;
  const sumG = G2.reduce((s, g) => s + g, 0);
  const iStar = logU(2, 30);
  return { theta: logU(1, 3), gamma: logU(0.01, 0.1), eps, A, C: (eps - A) / (iStar * iStar * sumG), G2 };
}
