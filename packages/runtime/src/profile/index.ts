import * as tf from '@tensorflow/tfjs-core';
import { seededRandom } from '../data/random.js';
import { SubModel } from '../models/submodel.js';
import { modelSpec, unitActivationElements, unitFlops, unitOutputShape, unitWeightSpecs } from '../models/zoo.js';

export interface UnitProfile {
  name: string;
  paramBytes: number;
  /** float32 activation bytes per sample leaving this unit (what crosses the wire at a cut after it). */
  outputBytesPerSample: number;
  /** Forward FLOPs per sample (multiply-add = 2). */
  flopsPerSample: number;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Static (analytic) per-unit costs of a zoo model; no tfjs needed. Shaped like the planner's ModelProfile:
 * labelBytesPerSample is 4 (int32), memPerSampleBytes[k] estimates the training memory of unit k per sample
 * (every activation the unit creates, incl. its output, plus an equal-sized gradient: 2 x 4 bytes each).
 */
export function modelProfile(name: string): {
  name: string;
  inputBytesPerSample: number;
  labelBytesPerSample: number;
  units: UnitProfile[];
  memPerSampleBytes: number[];
} {
  const m = modelSpec(name);
  return {
    name: m.name,
    labelBytesPerSample: 4,
    memPerSampleBytes: m.units.map((_, k) => 8 * unitActivationElements(m, k)),
    inputBytesPerSample: 4 * prod(m.inputShape),
    units: m.units.map((u, k) => ({
      name: u.name,
      paramBytes: 4 * unitWeightSpecs(m, k).reduce((a, s) => a + prod(s.shape), 0),
      outputBytesPerSample: 4 * prod(unitOutputShape(name, k + 1)),
      flopsPerSample: unitFlops(m, k),
    })),
  };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function randomTensor(shape: number[], rand: () => number): tf.Tensor {
  const v = new Float32Array(prod(shape));
  for (let i = 0; i < v.length; i++) v[i] = rand() * 2 - 1;
  return tf.tensor(v, shape, 'float32');
}

/**
 * Measures every unit on the current tfjs backend at `batchSize` (after one warm-up, median of `reps`, default 5):
 * - fwdMsPerSample[k]: inference forward of unit k, per sample;
 * - bwdMsPerSample[k]: one training step of unit k as a tier runs it (backward() recomputes the forward, so
 *   this includes it; the last unit runs trainTop with the loss; unit 0 computes no input gradient), per sample;
 * - peakBytes[k]: the most memory that step allocates at once beyond what existed before it, plus its input
 *   and upstream-gradient tensors (weights excluded: see modelProfile().units[k].paramBytes).
 * Uses lr = 0, so weights are untouched; all tensors are freed.
 */
export async function profileUnits(name: string, batchSize: number, reps = 5): Promise<{ fwdMsPerSample: number[]; bwdMsPerSample: number[]; peakBytes: number[] }> {
  const m = modelSpec(name);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`profileUnits: bad batchSize ${batchSize}`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`profileUnits: bad reps ${reps}`);
  const L = m.units.length;
  const rand = seededRandom(12345);
  const fwd: number[] = [];
  const bwd: number[] = [];
  const peak: number[] = [];
  for (let k = 0; k < L; k++) {
    const sub = SubModel.create(name, k, k + 1, 1);
    const x = randomTensor([batchSize, ...sub.inputShape()], rand);
    const dy = randomTensor([batchSize, ...sub.outputShape()], rand);
    const labels = tf.tensor1d(Int32Array.from({ length: batchSize }, () => Math.floor(rand() * m.numClasses)), 'int32');
    const top = k === L - 1;
    const wantDx = k > 0;
    const trainStep = () => {
      if (top) {
        const r = sub.trainTop(x, labels, 0, wantDx);
        if (r.dxSum) return r.dxSum;
        return null;
      }
      return sub.backward(x, dy, batchSize, 0, wantDx);
    };
    const forwardOnce = async () => {
      const y = sub.forward(x);
      await y.data();
      y.dispose();
    };
    const trainOnce = async () => {
      const g = trainStep();
      if (g) {
        await g.data();
        g.dispose();
      }
    };
    try {
      await forwardOnce();
      await trainOnce();
      const tf_: number[] = [];
      const tb: number[] = [];
      for (let r = 0; r < reps; r++) {
        let t0 = performance.now();
        await forwardOnce();
        tf_.push(performance.now() - t0);
        t0 = performance.now();
        await trainOnce();
        tb.push(performance.now() - t0);
      }
      fwd.push(median(tf_) / batchSize);
      bwd.push(median(tb) / batchSize);
      const startBytes = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const g = trainStep();
        g?.dispose();
      });
      const inputBytes = 4 * (x.size + (top ? 0 : dy.size));
      peak.push(Math.max(0, (Number.isFinite(info.peakBytes) ? info.peakBytes : startBytes) - startBytes) + inputBytes);
    } finally {
      x.dispose();
      dy.dispose();
      labels.dispose();
      sub.dispose();
    }
  }
  return { fwdMsPerSample: fwd, bwdMsPerSample: bwd, peakBytes: peak };
}
