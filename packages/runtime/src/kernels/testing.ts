/**
 * Test support for the project kernels (not exported from the package):
 * seeded random data and "run one kernel on backend X" helpers.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Deterministic uniform [0, 1) generator: mulberry32 of the seed as it is. */
export { mulberry32 as rng } from '../data/random.js';

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export function uniform(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export interface HostTensor {
  values: Float32Array | Int32Array;
  shape: number[];
  dtype?: 'float32' | 'int32';
}

export interface KernelResult {
  shape: number[];
  values: Float32Array;
}

/** Run one kernel through the engine on `backend` and copy the result to the host. */
export async function runKernelOn(
  backend: string,
  kernel: string,
  inputs: Record<string, HostTensor | undefined>,
  attrs: tf.NamedAttrMap,
): Promise<KernelResult> {
  if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) {
    throw new Error(`backend ${backend} unavailable`);
  }
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    if (v) ts[k] = tf.tensor(v.values, v.shape, v.dtype ?? 'float32');
  }
  const out = tf.engine().runKernel(kernel, ts as tf.NamedTensorMap, attrs) as tf.Tensor;
  const result = { shape: out.shape.slice(), values: Float32Array.from(out.dataSync() as ArrayLike<number>) };
  tf.dispose([out, ...Object.values(ts)]);
  return result;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN-safe: a NaN difference becomes the max
  }
  return m;
}

/** [kh,kw,ci,co] filter -> the equivalent undilated filter with zeros between taps. */
export function dilateFilter(f: Float32Array, shape: number[], dh: number, dw: number): HostTensor {
  const [kh, kw, ci, co] = shape;
  const eh = (kh - 1) * dh + 1;
  const ew = (kw - 1) * dw + 1;
  const out = new Float32Array(eh * ew * ci * co);
  const inner = ci * co;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      out.set(f.subarray((i * kw + j) * inner, (i * kw + j + 1) * inner), (i * dh * ew + j * dw) * inner);
    }
  }
  return { values: out, shape: [eh, ew, ci, co] };
}

/** Inverse of dilateFilter on a gradient: keep the taps at multiples of the dilation. */
export function undilateFilter(g: Float32Array, eShape: number[], kh: number, kw: number, dh: number, dw: number): Float32Array {
  const [, ew, ci, co] = eShape;
  const inner = ci * co;
  const out = new Float32Array(kh * kw * inner);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const src = (i * dh * ew + j * dw) * inner;
      out.set(g.subarray(src, src + inner), (i * kw + j) * inner);
    }
  }
  return out;
}
