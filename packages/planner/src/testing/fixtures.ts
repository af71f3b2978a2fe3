/** Hand-sized topologies for unit tests and docs. */
import type { LinkProfile, Topology } from '../types.js';

const link = (up: number, down: number, rtt: number): LinkProfile => ({ upBytesPerSec: up, downBytesPerSec: down, rttMs: rtt });
const prof = (fwd: number[], bwd: number[]) => ({ fwdMsPerSample: fwd, bwdMsPerSample: bwd });

/** 3 units; edge e0 serves d0, d1; edge e1 serves d2; b = 2. */
export function tinyTopology(): Topology {
  return {
    model: {
      name: 'tiny',
      inputBytesPerSample: 400,
      labelBytesPerSample: 4,
      units: [
        { name: 'u0', paramBytes: 1000, outputBytesPerSample: 100 },
        { name: 'u1', paramBytes: 2000, outputBytesPerSample: 50 },
        { name: 'u2', paramBytes: 500, outputBytesPerSample: 10 },
      ],
    },
    batchSize: 2,
    devices: [
      { id: 'd0', edgeId: 'e0', compute: prof([1, 9, 9], [2, 9, 9]), link: link(10_000, 20_000, 10), memFreeBytes: 1e9 },
      { id: 'd1', edgeId: 'e0', compute: prof([3, 9, 9], [4, 9, 9]), link: link(100_000, 100_000, 2), memFreeBytes: 1e9 },
      { id: 'd2', edgeId: 'e1', compute: prof([2, 9, 9], [1, 9, 9]), link: link(5_000, 50_000, 20), memFreeBytes: 1e9 },
    ],
    edges: [
      { id: 'e0', compute: prof([9, 0.5, 9], [9, 1, 9]), link: link(100_000, 200_000, 4) },
      { id: 'e1', compute: prof([9, 0.25, 9], [9, 0.5, 9]), link: link(10_000, 10_000, 6) },
    ],
    cloud: { compute: prof([9, 9, 0.1], [9, 9, 0.2]) },
  };
}
