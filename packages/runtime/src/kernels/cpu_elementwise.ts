/**
 * Tight-loop versions of the elementwise / reduction cpu kernels that a
 * training step calls on activation-sized tensors (bias add, ReLU and its
 * gradient, the bias gradient's Sum, max pooling). tfjs-backend-cpu runs them
 * through generic closures (and Sum through a full transpose), ~10-30 ns per
 * element; these run at ~1 ns. Only float32 and the common layouts are
 * handled; anything else goes to the stock kernel.
 */
import { backend_util, util, type KernelConfig, type KernelFunc, type NamedAttrMap, type NamedTensorInfoMap,
  type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { poolInfo, type PoolAttrs } from './pool.js';
import { stockKernel } from './registry.js';

const CPU = 'cpu';
type Args = { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap };

function stock(name: string, args: Args): TensorInfo | TensorInfo[] {
  const cfg = stockKernel(name, CPU);
  if (!cfg) throw new Error(`stock cpu kernel '${name}' missing`);
  return cfg.kernelFunc(args);
}

function vals(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/** 0: add, 1: sub, 2: mul. An opcode (not a callback) keeps the loops monomorphic. */
type BinOp = 0 | 1 | 2;

function f(code: BinOp, a: number, b: number): number {
  return code === 0 ? a + b : code === 1 ? a - b : a * b;
}

/**
 * Same-shape, scalar, or trailing-suffix broadcast (e.g. [b, h, w, c] + [c]);
 * returns undefined for layouts left to the stock kernel.
 */
function binary(name: string, code: BinOp): KernelFunc {
  return (args) => {
    const { inputs } = args;
    const backend = args.backend as MathBackendCPU;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(name, args);
    let outShape: number[];
    try {
      outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    } catch {
      return stock(name, args);
    }
    const n = util.sizeFromShape(outShape);
    const sa = util.sizeFromShape(a.shape);
    const sb = util.sizeFromShape(b.shape);
    const A = vals(backend, a);
    const B = vals(backend, b);
    const out = new Float32Array(n);
    if (sa === n && sb === n) {
      for (let i = 0; i < n; i++) out[i] = f(code, A[i], B[i]);
    } else if (sa === n && isSuffix(b.shape, outShape)) {
      if (sb === 1) {
        const y = B[0];
        for (let i = 0; i < n; i++) out[i] = f(code, A[i], y);
      } else {
        for (let i = 0; i < n; i += sb) for (let j = 0; j < sb; j++) out[i + j] = f(code, A[i + j], B[j]);
      }
    } else if (sb === n && isSuffix(a.shape, outShape)) {
      if (sa === 1) {
        const x = A[0];
        for (let i = 0; i < n; i++) out[i] = f(code, x, B[i]);
      } else {
        for (let i = 0; i < n; i += sa) for (let j = 0; j < sa; j++) out[i + j] = f(code, A[j], B[i + j]);
      }
    } else {
      return stock(name, args);
    }
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

/** True if `shape` (left-padded with 1s) covers a trailing block of `out` and is 1 elsewhere. */
function isSuffix(shape: number[], out: number[]): boolean {
  const pad = out.length - shape.length;
  const full = [...new Array<number>(pad).fill(1), ...shape];
  let i = 0;
  while (i < full.length && full[i] === 1) i++;
  for (let k = i; k < full.length; k++) if (full[k] !== out[k]) return false;
  return true;
}

const relu: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'float32') return stock('Relu', args);
  const X = vals(backend, x);
  const out = new Float32Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = Math.max(0, X[i]);
  return backend.makeTensorInfo(x.shape, 'float32', out);
};

const step: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'float32') return stock('Step', args);
  const alpha = (args.attrs as { alpha: number }).alpha;
  const X = vals(backend, x);
  const out = new Float32Array(X.length);
  for (let i = 0; i < X.length; i++) {
    const v = X[i];
    out[i] = v !== v ? NaN : v > 0 ? 1 : alpha;
  }
  return backend.makeTensorInfo(x.shape, 'float32', out);
};

/** Sum over a leading or a trailing block of axes (bias gradients, losses). */
const sum: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = (args.attrs ?? {}) as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== 'float32') return stock('Sum', args);
  const rank = x.shape.length;
  const axes = [...new Set(util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
  const k = axes.length;
  const leading = axes.every((ax, i) => ax === i);
  const trailing = axes.every((ax, i) => ax === rank - k + i);
  if (!leading && !trailing) return stock('Sum', args);
  const X = vals(backend, x);
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const outSize = util.sizeFromShape(outShape);
  const out = new Float32Array(outSize);
  if (k === 0) {
    out.set(X);
  } else if (trailing) {
    const inner = X.length / Math.max(1, outSize);
    for (let i = 0; i < outSize; i++) {
      let s = 0;
      const o = i * inner;
      for (let j = 0; j < inner; j++) s += X[o + j];
      out[i] = s;
    }
  } else {
    const acc = new Float64Array(outSize);
    for (let i = 0; i < X.length; i += outSize) for (let j = 0; j < outSize; j++) acc[j] += X[i + j];
    out.set(acc);
  }
  return backend.makeTensorInfo(outShape, 'float32', out);
};

const maxPool: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'float32' || x.shape.length !== 4) return stock('MaxPool', args);
  const p = poolInfo(x.shape, args.attrs as unknown as PoolAttrs, true);
  const { batch, H, W, C, OH, OW, sh, sw, fh, fw, pt, pl } = p;
  const X = vals(backend, x);
  const out = new Float32Array(batch * OH * OW * C);
  if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && pt === 0 && pl === 0 && 2 * OH <= H && 2 * OW <= W) {
    const row = W * C;
    for (let b = 0; b < batch; b++) {
      for (let y = 0; y < OH; y++) {
        for (let xo = 0; xo < OW; xo++) {
          const p0 = ((b * H + 2 * y) * W + 2 * xo) * C;
          const p2 = p0 + row;
          const o = ((b * OH + y) * OW + xo) * C;
          for (let d = 0; d < C; d++) {
            let m = Number.NEGATIVE_INFINITY;
            const v0 = X[p0 + d];
            const v1 = X[p0 + C + d];
            const v2 = X[p2 + d];
            const v3 = X[p2 + C + d];
            if (v0 > m) m = v0;
            if (v1 > m) m = v1;
            if (v2 > m) m = v2;
            if (v3 > m) m = v3;
            out[o + d] = m;
          }
        }
      }
    }
    return backend.makeTensorInfo([batch, OH, OW, C], 'float32', out);
  }
  out.fill(Number.NEGATIVE_INFINITY);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < OH; y++) {
      const r0 = Math.max(0, y * sh - pt);
      const r1 = Math.min(H, y * sh - pt + fh);
      for (let xo = 0; xo < OW; xo++) {
        const c0 = Math.max(0, xo * sw - pl);
        const c1 = Math.min(W, xo * sw - pl + fw);
        const o = ((b * OH + y) * OW + xo) * C;
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) {
            const base = ((b * H + r) * W + c) * C;
            for (let d = 0; d < C; d++) {
              const v = X[base + d];
              if (v > out[o + d]) out[o + d] = v;
            }
          }
        }
      }
    }
  }
  return backend.makeTensorInfo([batch, OH, OW, C], 'float32', out);
};

export const cpuElementwiseConfigs: KernelConfig[] = [
  { kernelName: 'Add', backendName: CPU, kernelFunc: binary('Add', 0) },
  { kernelName: 'Sub', backendName: CPU, kernelFunc: binary('Sub', 1) },
  { kernelName: 'Multiply', backendName: CPU, kernelFunc: binary('Multiply', 2) },
  { kernelName: 'Relu', backendName: CPU, kernelFunc: relu },
  { kernelName: 'Step', backendName: CPU, kernelFunc: step },
  { kernelName: 'Sum', backendName: CPU, kernelFunc: sum },
  { kernelName: 'MaxPool', backendName: CPU, kernelFunc: maxPool },
];
