/**
 * Pooling gradients as direct loops over flat NHWC arrays, shared by the cpu
 * kernels (tfjs-backend-cpu arrays) and the wasm kernels (views of the wasm
 * heap). Semantics follow tfjs-backend-cpu, the reference:
 * - MaxPoolGrad routes each dy to the *first strict* maximum of its window in
 *   scan order, padding excluded. (The stock wasm MaxPoolGrad seeds its
 *   running max with FLT_MIN, the smallest *positive* float, and keeps the last
 *   tie: a window with no value >= FLT_MIN, e.g. all zeros after a ReLU, sends
 *   its gradient to flat index 0 of the batch.)
 * - AvgPoolGrad spreads dy / (filterHeight * filterWidth) over the window's
 *   in-bounds positions.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { Pair, PadAttr, Rounding } from './geometry.js';

export type PoolAttrs = { filterSize: Pair; strides: Pair; pad: PadAttr; dimRoundingMode?: Rounding };

export interface PoolInfo {
  batch: number;
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  fh: number;
  fw: number;
  pt: number;
  pl: number;
}

export function poolInfo(shape: number[], a: PoolAttrs, withRounding: boolean): PoolInfo {
  const info = backend_util.computePool2DInfo(shape as [number, number, number, number], a.filterSize, a.strides, 1,
    a.pad, withRounding ? a.dimRoundingMode : undefined);
  return {
    batch: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/** dx must be zero-filled, length batch*H*W*C. */
export function maxPoolGradInto(X: Float32Array, DY: Float32Array, p: PoolInfo, dx: Float32Array): void {
  const { batch, H, W, C, OH, OW, sh, sw, fh, fw, pt, pl } = p;
  if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && pt === 0 && pl === 0 && 2 * OH <= H && 2 * OW <= W) {
    maxPoolGrad2x2(X, DY, p, dx);
    return;
  }
  // channels innermost: contiguous reads, one running max per channel
  const best = new Float64Array(C);
  const at = new Int32Array(C);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < OH; y++) {
      const r0 = Math.max(0, y * sh - pt);
      const r1 = Math.min(H, y * sh - pt + fh);
      for (let xo = 0; xo < OW; xo++) {
        const c0 = Math.max(0, xo * sw - pl);
        const c1 = Math.min(W, xo * sw - pl + fw);
        best.fill(Number.NEGATIVE_INFINITY);
        at.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) {
            const base = ((b * H + r) * W + c) * C;
            for (let d = 0; d < C; d++) {
              const v = X[base + d];
              if (v > best[d]) {
                best[d] = v;
                at[d] = base + d;
              }
            }
          }
        }
        const dyOff = ((b * OH + y) * OW + xo) * C;
        for (let d = 0; d < C; d++) if (at[d] >= 0) dx[at[d]] += DY[dyOff + d];
      }
    }
  }
}

/** dx must be zero-filled, length batch*H*W*C. */
export function avgPoolGradInto(DY: Float32Array, p: PoolInfo, dx: Float32Array): void {
  const { batch, H, W, C, OH, OW, sh, sw, fh, fw, pt, pl } = p;
  const mult = 1 / (fh * fw); // tfjs divides by the full window, padding included
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < OH; y++) {
      const r0 = Math.max(0, y * sh - pt);
      const r1 = Math.min(H, y * sh - pt + fh);
      for (let xo = 0; xo < OW; xo++) {
        const c0 = Math.max(0, xo * sw - pl);
        const c1 = Math.min(W, xo * sw - pl + fw);
        const dyOff = ((b * OH + y) * OW + xo) * C;
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) {
            const o = ((b * H + r) * W + c) * C;
            for (let d = 0; d < C; d++) dx[o + d] += DY[dyOff + d] * mult;
          }
        }
      }
    }
  }
}

/**
 * The common 2x2 / stride 2 / unpadded case, unrolled: first strict maximum of
 * the four window values (scan order), like the generic loop but without the
 * per-channel bookkeeping arrays (~1.7x faster).
 */
function maxPoolGrad2x2(X: Float32Array, DY: Float32Array, p: PoolInfo, dx: Float32Array): void {
  const { batch, H, W, C, OH, OW } = p;
  const row = W * C;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < OH; y++) {
      for (let xo = 0; xo < OW; xo++) {
        const p0 = ((b * H + 2 * y) * W + 2 * xo) * C;
        const p1 = p0 + C;
        const p2 = p0 + row;
        const p3 = p2 + C;
        const o = ((b * OH + y) * OW + xo) * C;
        for (let d = 0; d < C; d++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          const v0 = X[p0 + d];
          const v1 = X[p1 + d];
          const v2 = X[p2 + d];
          const v3 = X[p3 + d];
          if (v0 > best) { best = v0; at = p0 + d; }
          if (v1 > best) { best = v1; at = p1 + d; }
          if (v2 > best) { best = v2; at = p2 + d; }
          if (v3 > best) { at = p3 + d; }
          if (at >= 0) dx[at] += DY[o + d];
        }
      }
    }
  }
}
