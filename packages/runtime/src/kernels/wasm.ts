/**
 * Training kernels for tfjs-backend-wasm, composed only of kernels the wasm
 * backend ships (Transpose, Slice, PadV2, Reverse, Sum, ScatterNd, Conv2D,
 * DepthwiseConv2dNative, BatchMatMul), so every FLOP runs in XNNPACK / SIMD.
 *
 * Conv2DBackpropFilter is a convolution of the transposed input with the
 * transposed output gradient used as the filter, stride and dilation swapped:
 *
 *   dW[i,j,c,o] = sum_{b,y,x} xpad[b, y*s + i*d, x*s + j*d, c] * dy[b,y,x,o]
 *               = conv2d(X' = xpad^T [c, H', W', b], F' = dy^T [oh, ow, b, o],
 *                        stride = d, dilation = s)[c, i, j, o]
 *
 * Conv2DBackpropInput is the correlation of the zero-upsampled dy with the
 * 180°-rotated, in/out-swapped filter (stride 1, dilation d).
 * See docs/runtime.md for the derivations of the others.
 */
import {
  util,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { axisPlan, geometry, padToNHWC, type AxisPlan, type ConvGeometry, type Pair, type PadAttr, type Rounding } from './geometry.js';
import { KernelScope, stockKernel, view, withScope } from './registry.js';

const WASM = 'wasm';

type Shape4 = [number, number, number, number];
type ConvAttrs = { strides: Pair; pad: PadAttr; dataFormat?: string; dilations?: Pair; dimRoundingMode?: Rounding };

function explicitPad(h: AxisPlan, w: AxisPlan): [[number, number], [number, number], [number, number], [number, number]] {
  return [[0, 0], [h.padFront, h.padBack], [w.padFront, w.padBack], [0, 0]];
}

/** Crop an NHWC tensor's spatial axes where the plans call for negative padding. */
function crop(s: KernelScope, t: TensorInfo, h: AxisPlan, w: AxisPlan): TensorInfo {
  if (!h.cropFront && !h.cropBack && !w.cropFront && !w.cropBack) return t;
  const [b, H, W, c] = t.shape;
  return s.run('Slice', { x: t }, {
    begin: [0, h.cropFront, w.cropFront, 0],
    size: [b, H - h.cropFront - h.cropBack, W - w.cropFront - w.cropBack, c],
  });
}

/** Insert (s-1) zeros after every row / column of an NHWC tensor (length n -> n*s). */
function zeroUpsample(s: KernelScope, t: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return t;
  const [b, h, w, c] = t.shape;
  const padded = s.run('PadV2', { x: view(t, [b, h, 1, w, 1, c]) }, {
    paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
    constantValue: 0,
  });
  return view(padded, [b, h * sh, w * sw, c]);
}

function toNHWC(s: KernelScope, t: TensorInfo, dataFormat: string | undefined): TensorInfo {
  return dataFormat === 'NCHW' ? s.run('Transpose', { x: t }, { perm: [0, 2, 3, 1] }) : t;
}

/** Plans for reading a correlation input so that the output has exactly `outLen` positions. */
function gradPlans(g: ConvGeometry): { h: AxisPlan; w: AxisPlan } {
  return {
    h: axisPlan(g.inH, g.pt, (g.kh - 1) * g.dh + (g.outH - 1) * g.sh + 1),
    w: axisPlan(g.inW, g.pl, (g.kw - 1) * g.dw + (g.outW - 1) * g.sw + 1),
  };
}

/** Plans for the dx correlation over the zero-upsampled dy (length `len`). */
function inputGradPlans(g: ConvGeometry, lenH: number, lenW: number): { h: AxisPlan; w: AxisPlan } {
  return {
    h: axisPlan(lenH, (g.kh - 1) * g.dh - g.pt, g.inH + (g.kh - 1) * g.dh),
    w: axisPlan(lenW, (g.kw - 1) * g.dw - g.pl, g.inW + (g.kw - 1) * g.dw),
  };
}

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  return withScope(backend as BackendWasm, WASM, (s) => {
    const xN = toNHWC(s, x, a.dataFormat);
    const dyN = toNHWC(s, dy, a.dataFormat);
    const g = geometry(xN.shape as Shape4, a.filterShape, a.strides, a.dilations,
      padToNHWC(a.pad, a.dataFormat), a.dimRoundingMode, false);
    const { h, w } = gradPlans(g);
    const xc = crop(s, xN, h, w);
    // batch becomes the reduction ("channel") axis, input channels the batch
    const xt = s.run('Transpose', { x: xc }, { perm: [3, 1, 2, 0] }); // [ci, H', W', b]
    const dyt = s.run('Transpose', { x: dyN }, { perm: [1, 2, 0, 3] }); // [oh, ow, b, co]
    const r = s.run('Conv2D', { x: xt, filter: dyt }, {
      strides: [g.dh, g.dw],
      dilations: [g.sh, g.sw],
      pad: explicitPad(h, w),
      dataFormat: 'NHWC',
    }); // [ci, kh, kw, co]
    return s.keep(s.run('Transpose', { x: r }, { perm: [1, 2, 0, 3] }));
  });
};

const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  return withScope(backend as BackendWasm, WASM, (s) => {
    const nchw = a.dataFormat === 'NCHW';
    const inShape: Shape4 = nchw
      ? [a.inputShape[0], a.inputShape[2], a.inputShape[3], a.inputShape[1]]
      : a.inputShape;
    const dyN = toNHWC(s, dy, a.dataFormat);
    const g = geometry(inShape, filter.shape as Shape4, a.strides, a.dilations, padToNHWC(a.pad, a.dataFormat),
      a.dimRoundingMode, false);
    const z = zeroUpsample(s, dyN, g.sh, g.sw);
    const { h, w } = inputGradPlans(g, z.shape[1], z.shape[2]);
    const zc = crop(s, z, h, w);
    const rot = s.run('Reverse', { x: filter }, { dims: [0, 1] });
    const ft = s.run('Transpose', { x: rot }, { perm: [0, 1, 3, 2] }); // [kh, kw, co, ci]
    const dx = s.run('Conv2D', { x: zc, filter: ft }, {
      strides: [1, 1],
      dilations: [g.dh, g.dw],
      pad: explicitPad(h, w),
      dataFormat: 'NHWC',
    }); // [b, H, W, ci]
    return s.keep(nchw ? s.run('Transpose', { x: dx }, { perm: [0, 3, 1, 2] }) : dx);
  });
};

const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  return withScope(backend as BackendWasm, WASM, (s) => {
    const g = geometry(x.shape as Shape4, a.filterShape, a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
    const { batch: b, inC: c, mult: m, kh, kw } = g;
    const { h, w } = gradPlans(g);
    const xc = crop(s, x, h, w);
    const [, H2, W2] = xc.shape;
    // fold the batch into the channels: [1, H', W', b*c] and filter [oh, ow, b*c, m]
    const xt = b === 1 ? xc : s.run('Transpose', { x: xc }, { perm: [1, 2, 0, 3] });
    const dyt = b === 1 ? dy : s.run('Transpose', { x: view(dy, [b, g.outH, g.outW, c, m]) }, { perm: [1, 2, 0, 3, 4] });
    const r = s.run('DepthwiseConv2dNative', {
      x: view(xt, [1, H2, W2, b * c]),
      filter: view(dyt, [g.outH, g.outW, b * c, m]),
    }, {
      strides: [g.dh, g.dw],
      dilations: [g.sh, g.sw],
      pad: explicitPad(h, w),
      dataFormat: 'NHWC',
    }); // [1, kh, kw, b*c*m]
    if (b === 1) return s.keep(r, [kh, kw, c, m]);
    const sum = s.run('Sum', { x: view(r, [kh, kw, b, c * m]) }, { axis: [2], keepDims: false });
    return s.keep(sum, [kh, kw, c, m]);
  });
};

const depthwiseBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  return withScope(backend as BackendWasm, WASM, (s) => {
    const g = geometry(a.inputShape, filter.shape as Shape4, a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
    const { batch: b, inH: H, inW: W, inC: c, mult: m, kh, kw } = g;
    const z = zeroUpsample(s, dy, g.sh, g.sw);
    const { h, w } = inputGradPlans(g, z.shape[1], z.shape[2]);
    const zc = crop(s, z, h, w);
    const rot = s.run('Reverse', { x: filter }, { dims: [0, 1] });
    const r = s.run('DepthwiseConv2dNative', { x: zc, filter: view(rot, [kh, kw, c * m, 1]) }, {
      strides: [1, 1],
      dilations: [g.dh, g.dw],
      pad: explicitPad(h, w),
      dataFormat: 'NHWC',
    }); // [b, H, W, c*m]
    if (m === 1) return s.keep(r);
    return s.keep(s.run('Sum', { x: view(r, [b, H, W, c, m]) }, { axis: [4], keepDims: false }));
  });
};

const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  const be = backend as BackendWasm;
  return withScope(be, WASM, (s) => {
    const n = util.sizeFromShape(segmentIds.shape);
    const rest = x.shape.slice(segmentIds.shape.length);
    const outShape = [numSegments, ...rest];
    if (n === 0 || util.sizeFromShape(outShape) === 0) {
      return s.keep(s.run('Fill', {}, { shape: outShape, value: 0, dtype: x.dtype }));
    }
    const ids = be.readSync(segmentIds.dataId) as ArrayLike<number>;
    let valid = segmentIds.dtype === 'int32';
    for (let i = 0; valid && i < n; i++) if (!(ids[i] >= 0 && ids[i] < numSegments)) valid = false;
    let indices: TensorInfo;
    let slots = numSegments;
    if (valid) {
      indices = view(segmentIds, [n, 1]);
    } else {
      // out-of-range ids are dropped (as in tfjs): route them to a spare slot
      slots = numSegments + 1;
      const fixed = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = ids[i];
        fixed[i] = v >= 0 && v < numSegments && Number.isInteger(v) ? v : numSegments;
      }
      indices = s.adopt(be.makeOutput([n, 1], 'int32', undefined, fixed));
    }
    const r = s.run('ScatterNd', { indices, updates: view(x, [n, ...rest]) }, { shape: [slots, ...rest] });
    if (slots === numSegments) return s.keep(r);
    return s.keep(s.run('Slice', { x: r }, { begin: outShape.map(() => 0), size: outShape }));
  });
};

/**
 * The wasm BatchMatMul only uses XNNPACK when neither operand is transposed
 * (and the batch is 1); otherwise it falls back to a scalar triple loop. The
 * backward pass of every dense layer asks for transposes, so materialise them
 * with the (cheap) Transpose kernel and call the stock kernel untransposed.
 */
function matMulWasm(name: 'BatchMatMul' | '_FusedMatMul'): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const at = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const stock = stockKernel(name, WASM);
    if (!stock) throw new Error(`stock wasm kernel '${name}' missing`);
    const plain = util.sizeFromShape(a.shape.slice(0, -2)) === 1 && util.sizeFromShape(b.shape.slice(0, -2)) === 1;
    if ((!at.transposeA && !at.transposeB) || !plain || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return stock.kernelFunc(args);
    }
    return withScope(backend as BackendWasm, WASM, (s) => {
      const swap = (t: TensorInfo): TensorInfo => {
        const perm = t.shape.map((_, i) => i);
        const r = perm.length;
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        return s.run('Transpose', { x: t }, { perm });
      };
      const a2 = at.transposeA ? swap(a) : a;
      const b2 = at.transposeB ? swap(b) : b;
      const newInputs: NamedTensorInfoMap = { ...inputs, a: a2, b: b2 };
      const newAttrs: NamedAttrMap = { ...attrs, transposeA: false, transposeB: false };
      return s.keep(s.runStock(name, newInputs, newAttrs));
    });
  };
}

export const wasmKernelConfigs: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: WASM, kernelFunc: conv2DBackpropFilter },
  { kernelName: 'Conv2DBackpropInput', backendName: WASM, kernelFunc: conv2DBackpropInput },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: WASM, kernelFunc: depthwiseBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: WASM, kernelFunc: depthwiseBackpropInput },
  { kernelName: 'UnsortedSegmentSum', backendName: WASM, kernelFunc: unsortedSegmentSum },
  { kernelName: 'BatchMatMul', backendName: WASM, kernelFunc: matMulWasm('BatchMatMul') },
  { kernelName: '_FusedMatMul', backendName: WASM, kernelFunc: matMulWasm('_FusedMatMul') },
];
