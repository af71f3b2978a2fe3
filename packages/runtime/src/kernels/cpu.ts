/**
 * Fast kernels for tfjs-backend-cpu (pure JS, no wasm): im2col / col2im around
 * the dot-product GEMM of ./gemm.ts, and direct loops on the backing typed
 * arrays for pooling and depthwise gradients. Anything outside what these
 * handle (NCHW, non-float32, prelu, exotic broadcasting) is delegated to the
 * stock kernel, so a registered project kernel never narrows what tfjs accepts.
 */
import {
  backend_util,
  util,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { cpuElementwiseConfigs } from './cpu_elementwise.js';
import { gemmNT, transpose2d } from './gemm.js';
import { geometry, pairOf, type ConvGeometry, type Pair, type PadAttr, type Rounding } from './geometry.js';
import { avgPoolGradInto, maxPoolGradInto, poolInfo, type PoolAttrs } from './pool.js';
import { stockKernel } from './registry.js';

const CPU = 'cpu';
/** Floats per im2col chunk (1 MiB): bounds scratch memory and stays cache-friendly. */
const CHUNK = 1 << 18;

type Args = { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap };

function vals(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

function allFloat32(...ts: (TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t == null || t.dtype === 'float32');
}

function stock(name: string, args: Args): TensorInfo | TensorInfo[] {
  const cfg = stockKernel(name, CPU);
  if (!cfg) throw new Error(`stock cpu kernel '${name}' missing`);
  return cfg.kernelFunc(args);
}

function out(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

// ---------------------------------------------------------------------------
// im2col / col2im (NHWC; row = output pixel (b, y, x), column = (i, j, c))

function rowsPerChunk(width: number, total: number): number {
  const r = Math.max(4, Math.floor(CHUNK / Math.max(1, width)));
  return Math.min(total, r);
}

/** Rows [p0, p1) of the im2col matrix of `x` into `dst` (row-major, Kc wide). */
export function im2col(x: Float32Array, g: ConvGeometry, p0: number, p1: number, dst: Float32Array): void {
  const { inH, inW, inC, outH, outW, kh, kw, sh, sw, dh, dw, pt, pl } = g;
  const ohw = outH * outW;
  const rowStride = inW * inC;
  const imgStride = inH * rowStride;
  let o = 0;
  for (let p = p0; p < p1; p++) {
    const b = (p / ohw) | 0;
    const r = p - b * ohw;
    const y = (r / outW) | 0;
    const xo = r - y * outW;
    const base = b * imgStride;
    const c0 = xo * sw - pl;
    for (let i = 0; i < kh; i++) {
      const xr = y * sh - pt + i * dh;
      if (xr < 0 || xr >= inH) {
        dst.fill(0, o, o + kw * inC);
        o += kw * inC;
        continue;
      }
      const rowBase = base + xr * rowStride;
      if (dw === 1 && c0 >= 0 && c0 + kw <= inW) {
        // the whole kernel row is one contiguous run of kw*inC floats
        const src = rowBase + c0 * inC;
        const n = kw * inC;
        if (n >= 32) dst.set(x.subarray(src, src + n), o);
        else for (let t = 0; t < n; t++) dst[o + t] = x[src + t];
        o += n;
        continue;
      }
      for (let j = 0; j < kw; j++) {
        const xc = c0 + j * dw;
        if (xc < 0 || xc >= inW) {
          dst.fill(0, o, o + inC);
        } else {
          const src = rowBase + xc * inC;
          for (let c = 0; c < inC; c++) dst[o + c] = x[src + c];
        }
        o += inC;
      }
    }
  }
}

/** Scatter-add rows [p0, p1) of a column matrix back into image `dx`. */
export function col2im(cols: Float32Array, g: ConvGeometry, p0: number, p1: number, dx: Float32Array): void {
  const { inH, inW, inC, outH, outW, kh, kw, sh, sw, dh, dw, pt, pl } = g;
  const ohw = outH * outW;
  const rowStride = inW * inC;
  const imgStride = inH * rowStride;
  let o = 0;
  for (let p = p0; p < p1; p++) {
    const b = (p / ohw) | 0;
    const r = p - b * ohw;
    const y = (r / outW) | 0;
    const xo = r - y * outW;
    const base = b * imgStride;
    for (let i = 0; i < kh; i++) {
      const xr = y * sh - pt + i * dh;
      if (xr < 0 || xr >= inH) {
        o += kw * inC;
        continue;
      }
      const rowBase = base + xr * rowStride;
      for (let j = 0; j < kw; j++) {
        const xc = xo * sw - pl + j * dw;
        if (xc >= 0 && xc < inW) {
          const d = rowBase + xc * inC;
          for (let c = 0; c < inC; c++) dx[d + c] += cols[o + c];
        }
        o += inC;
      }
    }
  }
}

function isPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.pt === 0 && g.pl === 0 &&
    g.outH === g.inH && g.outW === g.inW;
}

/** y[P, co] = im2col(x) · W, W as [Kc, co]. */
export function conv2dForward(x: Float32Array, w: Float32Array, g: ConvGeometry): Float32Array {
  const Kc = g.kh * g.kw * g.inC;
  const co = g.outC;
  const P = g.batch * g.outH * g.outW;
  const y = new Float32Array(P * co);
  const wt = transpose2d(w, 0, Kc, co); // [co, Kc]
  if (isPointwise(g)) {
    gemmNT(P, co, Kc, x, 0, wt, 0, y, 0, false);
    return y;
  }
  const rows = rowsPerChunk(Kc, P);
  const buf = new Float32Array(rows * Kc);
  for (let p0 = 0; p0 < P; p0 += rows) {
    const p1 = Math.min(P, p0 + rows);
    im2col(x, g, p0, p1, buf);
    gemmNT(p1 - p0, co, Kc, buf, 0, wt, 0, y, p0 * co, false);
  }
  return y;
}

/** dW[Kc, co] = im2col(x)^T · dy, accumulated over row chunks. */
export function conv2dFilterGrad(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array {
  const Kc = g.kh * g.kw * g.inC;
  const co = g.outC;
  const P = g.batch * g.outH * g.outW;
  const dW = new Float32Array(Kc * co);
  const rows = rowsPerChunk(Math.max(Kc, co), P);
  const buf = isPointwise(g) ? undefined : new Float32Array(rows * Kc);
  const bufT = new Float32Array(rows * Kc);
  const dyT = new Float32Array(rows * co);
  for (let p0 = 0; p0 < P; p0 += rows) {
    const p1 = Math.min(P, p0 + rows);
    const n = p1 - p0;
    if (buf) {
      im2col(x, g, p0, p1, buf);
      transpose2d(buf, 0, n, Kc, bufT); // [Kc, n]
    } else {
      transpose2d(x, p0 * Kc, n, Kc, bufT);
    }
    transpose2d(dy, p0 * co, n, co, dyT); // [co, n]
    gemmNT(Kc, co, n, bufT, 0, dyT, 0, dW, 0, true);
  }
  return dW;
}

/** dx = col2im(dy · W^T), W as [Kc, co]. */
export function conv2dInputGrad(dy: Float32Array, w: Float32Array, g: ConvGeometry): Float32Array {
  const Kc = g.kh * g.kw * g.inC;
  const co = g.outC;
  const P = g.batch * g.outH * g.outW;
  if (isPointwise(g)) {
    const dx = new Float32Array(P * Kc);
    gemmNT(P, Kc, co, dy, 0, w, 0, dx, 0, false);
    return dx;
  }
  const dx = new Float32Array(g.batch * g.inH * g.inW * g.inC);
  const rows = rowsPerChunk(Kc, P);
  const cols = new Float32Array(rows * Kc);
  for (let p0 = 0; p0 < P; p0 += rows) {
    const p1 = Math.min(P, p0 + rows);
    gemmNT(p1 - p0, Kc, co, dy, p0 * co, w, 0, cols, 0, false);
    col2im(cols, g, p0, p1, dx);
  }
  return dx;
}

// ---------------------------------------------------------------------------
// bias + activation epilogue shared by FusedConv2D and _FusedMatMul

const SIMPLE_ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu']);

function epilogueSupported(bias: TensorInfo | undefined, n: number, total: number, activation: string | undefined,
  prelu: TensorInfo | undefined): boolean {
  if (prelu != null) return false;
  if (activation != null && !SIMPLE_ACTIVATIONS.has(activation)) return false;
  if (bias == null) return true;
  const s = util.sizeFromShape(bias.shape);
  return bias.dtype === 'float32' && (s === 1 || s === total || (s === n && bias.shape[bias.shape.length - 1] === n));
}

function applyEpilogue(y: Float32Array, n: number, bias: Float32Array | undefined, activation: string | undefined,
  alpha: number): void {
  if (bias) {
    if (bias.length === y.length) for (let i = 0; i < y.length; i++) y[i] += bias[i];
    else if (bias.length === 1) { const b = bias[0]; for (let i = 0; i < y.length; i++) y[i] += b; }
    else for (let i = 0; i < y.length; i += n) for (let j = 0; j < n; j++) y[i + j] += bias[j];
  }
  switch (activation ?? 'linear') {
    case 'relu': for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] = 0; break;
    case 'relu6': for (let i = 0; i < y.length; i++) y[i] = y[i] < 0 ? 0 : y[i] > 6 ? 6 : y[i]; break;
    case 'elu': for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] = Math.exp(y[i]) - 1; break;
    case 'sigmoid': for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i])); break;
    case 'leakyrelu': for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] *= alpha; break;
    default: break;
  }
}

// ---------------------------------------------------------------------------
// kernels

type ConvAttrs = { strides: Pair; pad: PadAttr; dataFormat?: string; dilations?: Pair; dimRoundingMode?: Rounding };

const conv2D: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs;
  if (a.dataFormat === 'NCHW' || !allFloat32(x, filter)) return stock('Conv2D', args);
  const g = geometry(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    a.strides, a.dilations, a.pad, a.dimRoundingMode, false);
  const y = conv2dForward(vals(backend, x), vals(backend, filter), g);
  return out(backend, [g.batch, g.outH, g.outW, g.outC], y);
};

const fusedConv2D: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
  const a = attrs as unknown as ConvAttrs & { activation?: string; leakyreluAlpha?: number };
  if (a.dataFormat === 'NCHW' || !allFloat32(x, filter)) return stock('FusedConv2D', args);
  const g = geometry(x!.shape as [number, number, number, number], filter!.shape as [number, number, number, number],
    a.strides, a.dilations, a.pad, a.dimRoundingMode, false);
  const total = g.batch * g.outH * g.outW * g.outC;
  if (!epilogueSupported(bias, g.outC, total, a.activation, preluActivationWeights)) return stock('FusedConv2D', args);
  const y = conv2dForward(vals(backend, x!), vals(backend, filter!), g);
  applyEpilogue(y, g.outC, bias ? vals(backend, bias) : undefined, a.activation, a.leakyreluAlpha ?? 0.2);
  return out(backend, [g.batch, g.outH, g.outW, g.outC], y);
};

const conv2DBackpropFilter: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  const dil = pairOf(a.dilations);
  if (a.dataFormat === 'NCHW' || !allFloat32(x, dy)) {
    if (dil[0] !== 1 || dil[1] !== 1) throw new Error('Conv2DBackpropFilter: dilations need NHWC float32');
    return stock('Conv2DBackpropFilter', args);
  }
  const g = geometry(x.shape as [number, number, number, number], a.filterShape, a.strides, a.dilations, a.pad,
    a.dimRoundingMode, false);
  const dW = conv2dFilterGrad(vals(backend, x), vals(backend, dy), g);
  return out(backend, [g.kh, g.kw, g.inC, g.outC], dW);
};

const conv2DBackpropInput: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const dil = pairOf(a.dilations);
  if (a.dataFormat === 'NCHW' || !allFloat32(dy, filter)) {
    if (dil[0] !== 1 || dil[1] !== 1) throw new Error('Conv2DBackpropInput: dilations need NHWC float32');
    return stock('Conv2DBackpropInput', args);
  }
  const g = geometry(a.inputShape, filter.shape as [number, number, number, number], a.strides, a.dilations, a.pad,
    a.dimRoundingMode, false);
  const dx = conv2dInputGrad(vals(backend, dy), vals(backend, filter), g);
  return out(backend, a.inputShape, dx);
};

const depthwiseBackpropFilter: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  if (!allFloat32(x, dy)) return stock('DepthwiseConv2dNativeBackpropFilter', args);
  const g = geometry(x.shape as [number, number, number, number], a.filterShape, a.strides, a.dilations, a.pad,
    a.dimRoundingMode, true);
  const X = vals(backend, x);
  const DY = vals(backend, dy);
  const { inH, inW, inC, outH, outW, kh, kw, sh, sw, dh, dw, pt, pl, mult } = g;
  const oc = inC * mult;
  const acc = new Float64Array(kh * kw * oc);
  for (let b = 0; b < g.batch; b++) {
    for (let y = 0; y < outH; y++) {
      for (let i = 0; i < kh; i++) {
        const xr = y * sh - pt + i * dh;
        if (xr < 0 || xr >= inH) continue;
        for (let xo = 0; xo < outW; xo++) {
          const dyOff = ((b * outH + y) * outW + xo) * oc;
          for (let j = 0; j < kw; j++) {
            const xc = xo * sw - pl + j * dw;
            if (xc < 0 || xc >= inW) continue;
            const xOff = ((b * inH + xr) * inW + xc) * inC;
            const wOff = (i * kw + j) * oc;
            if (mult === 1) {
              for (let c = 0; c < inC; c++) acc[wOff + c] += X[xOff + c] * DY[dyOff + c];
            } else {
              for (let c = 0; c < inC; c++) {
                const xv = X[xOff + c];
                const o = c * mult;
                for (let q = 0; q < mult; q++) acc[wOff + o + q] += xv * DY[dyOff + o + q];
              }
            }
          }
        }
      }
    }
  }
  return out(backend, [kh, kw, inC, mult], Float32Array.from(acc));
};

const depthwiseBackpropInput: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  if (!allFloat32(dy, filter)) return stock('DepthwiseConv2dNativeBackpropInput', args);
  const g = geometry(a.inputShape, filter.shape as [number, number, number, number], a.strides, a.dilations, a.pad,
    a.dimRoundingMode, true);
  const DY = vals(backend, dy);
  const F = vals(backend, filter);
  const { inH, inW, inC, outH, outW, kh, kw, sh, sw, dh, dw, pt, pl, mult } = g;
  const oc = inC * mult;
  const dx = new Float32Array(g.batch * inH * inW * inC);
  for (let b = 0; b < g.batch; b++) {
    for (let y = 0; y < outH; y++) {
      for (let i = 0; i < kh; i++) {
        const xr = y * sh - pt + i * dh;
        if (xr < 0 || xr >= inH) continue;
        for (let xo = 0; xo < outW; xo++) {
          const dyOff = ((b * outH + y) * outW + xo) * oc;
          for (let j = 0; j < kw; j++) {
            const xc = xo * sw - pl + j * dw;
            if (xc < 0 || xc >= inW) continue;
            const xOff = ((b * inH + xr) * inW + xc) * inC;
            const wOff = (i * kw + j) * oc;
            if (mult === 1) {
              for (let c = 0; c < inC; c++) dx[xOff + c] += DY[dyOff + c] * F[wOff + c];
            } else {
              for (let c = 0; c < inC; c++) {
                const o = c * mult;
                let s = 0;
                for (let q = 0; q < mult; q++) s += DY[dyOff + o + q] * F[wOff + o + q];
                dx[xOff + c] += s;
              }
            }
          }
        }
      }
    }
  }
  return out(backend, a.inputShape, dx);
};

const maxPoolGrad: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const a = attrs as unknown as PoolAttrs;
  if (!allFloat32(dy, input)) return stock('MaxPoolGrad', args);
  const info = poolInfo(input.shape, a, true);
  const dx = new Float32Array(util.sizeFromShape(input.shape));
  maxPoolGradInto(vals(backend, input), vals(backend, dy), info, dx);
  return out(backend, input.shape, dx);
};

const avgPoolGrad: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as MathBackendCPU;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const a = attrs as unknown as PoolAttrs;
  if (!allFloat32(dy, input)) return stock('AvgPoolGrad', args);
  const info = poolInfo(input.shape, a, false);
  const dx = new Float32Array(util.sizeFromShape(input.shape));
  avgPoolGradInto(vals(backend, dy), info, dx);
  return out(backend, input.shape, dx);
};

/** Flattened batch count of a matmul operand, or -1 if it is not plain. */
function batchOf(shape: number[]): number {
  return util.sizeFromShape(shape.slice(0, -2));
}

function matMulImpl(name: 'BatchMatMul' | '_FusedMatMul'): KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as MathBackendCPU;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const at = attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string;
      leakyreluAlpha?: number };
    if (!allFloat32(a, b) || a!.shape.length < 2 || b!.shape.length < 2) return stock(name, args);
    const ra = a!.shape.length;
    const rb = b!.shape.length;
    const M = at.transposeA ? a!.shape[ra - 1] : a!.shape[ra - 2];
    const K = at.transposeA ? a!.shape[ra - 2] : a!.shape[ra - 1];
    const K2 = at.transposeB ? b!.shape[rb - 1] : b!.shape[rb - 2];
    const N = at.transposeB ? b!.shape[rb - 2] : b!.shape[rb - 1];
    const ba = batchOf(a!.shape);
    const bb = batchOf(b!.shape);
    if (K !== K2) return stock(name, args); // let the stock kernel produce tfjs's error
    // batch broadcasting: aligned batches or a batch-1 side; anything else goes to the stock kernel
    let outBatchShape: number[];
    try {
      outBatchShape = backend_util.assertAndGetBroadcastShape(a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    } catch {
      return stock(name, args);
    }
    const ob = util.sizeFromShape(outBatchShape);
    if (!(ba === 1 || ba === ob) || !(bb === 1 || bb === ob)) return stock(name, args);
    const batch = Math.max(ba, bb);
    const total = batch * M * N;
    if (name === '_FusedMatMul' && !epilogueSupported(bias, N, total, at.activation, preluActivationWeights)) {
      return stock(name, args);
    }
    const A = vals(backend, a!);
    const B = vals(backend, b!);
    const C = new Float32Array(total);
    const aT = at.transposeA ? new Float32Array(M * K) : undefined;
    const bT = at.transposeB ? undefined : new Float32Array(N * K);
    let lastB = -1;
    for (let i = 0; i < batch; i++) {
      const ia = ba === 1 ? 0 : i;
      const ib = bb === 1 ? 0 : i;
      let aArr = A;
      let aOff = ia * M * K;
      if (aT) {
        transpose2d(A, aOff, K, M, aT); // [K, M] -> [M, K]
        aArr = aT;
        aOff = 0;
      }
      let bArr = B;
      let bOff = ib * K * N;
      if (bT) {
        if (ib !== lastB) transpose2d(B, bOff, K, N, bT); // [K, N] -> [N, K]
        lastB = ib;
        bArr = bT;
        bOff = 0;
      }
      gemmNT(M, N, K, aArr, aOff, bArr, bOff, C, i * M * N, false);
    }
    if (name === '_FusedMatMul') {
      applyEpilogue(C, N, bias ? vals(backend, bias) : undefined, at.activation, at.leakyreluAlpha ?? 0.2);
    }
    return out(backend, [...outBatchShape, M, N], C);
  };
}

export const cpuKernelConfigs: KernelConfig[] = [
  { kernelName: 'Conv2D', backendName: CPU, kernelFunc: conv2D },
  { kernelName: 'FusedConv2D', backendName: CPU, kernelFunc: fusedConv2D },
  { kernelName: 'Conv2DBackpropFilter', backendName: CPU, kernelFunc: conv2DBackpropFilter },
  { kernelName: 'Conv2DBackpropInput', backendName: CPU, kernelFunc: conv2DBackpropInput },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: CPU, kernelFunc: depthwiseBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: CPU, kernelFunc: depthwiseBackpropInput },
  { kernelName: 'MaxPoolGrad', backendName: CPU, kernelFunc: maxPoolGrad },
  { kernelName: 'AvgPoolGrad', backendName: CPU, kernelFunc: avgPoolGrad },
  { kernelName: 'BatchMatMul', backendName: CPU, kernelFunc: matMulImpl('BatchMatMul') },
  { kernelName: '_FusedMatMul', backendName: CPU, kernelFunc: matMulImpl('_FusedMatMul') },
  ...cpuElementwiseConfigs,
];
