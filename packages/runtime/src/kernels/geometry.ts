/**
 * Convolution geometry shared by the wasm and cpu project kernels. All
 * kernels work in NHWC; NCHW callers are transposed at the edges.
 */
import { backend_util } from '@tensorflow/tfjs-core';

export type PadAttr = 'valid' | 'same' | number | backend_util.ExplicitPadding;
export type Pair = [number, number] | number;
export type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Everything a 2-D convolution's index arithmetic needs (NHWC). */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** top / left zero padding (input rows/cols before index 0). */
  pt: number;
  pl: number;
  /** channel multiplier (depthwise only, else 1). */
  mult: number;
}

export function pairOf(v: Pair | undefined, dflt = 1): [number, number] {
  if (v == null) return [dflt, dflt];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Convert an NCHW explicit padding to NHWC order (numbers / strings pass through). */
export function padToNHWC(pad: PadAttr, dataFormat: string | undefined): PadAttr {
  if (dataFormat === 'NCHW' && Array.isArray(pad)) {
    const p = pad as number[][];
    return [p[0], p[2], p[3], p[1]] as backend_util.ExplicitPadding;
  }
  return pad;
}

export function geometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: Pair,
  dilations: Pair | undefined,
  pad: PadAttr,
  dimRoundingMode: Rounding,
  depthwise: boolean,
): ConvGeometry {
  const info = backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
    mult: depthwise ? info.outChannels / info.inChannels : 1,
  };
}

/**
 * For a correlation that must read exactly `need` positions starting at
 * position `-front` of an axis of length `len`: how many zeros to add after the
 * data (`back`, >= 0) and how much to crop from each end when the requested
 * front/back padding is negative.
 */
export interface AxisPlan {
  cropFront: number;
  cropBack: number;
  padFront: number;
  padBack: number;
}

export function axisPlan(len: number, front: number, need: number): AxisPlan {
  const back = need - len - front;
  return {
    cropFront: front < 0 ? -front : 0,
    cropBack: back < 0 ? -back : 0,
    padFront: front > 0 ? front : 0,
    padBack: back > 0 ? back : 0,
  };
}
