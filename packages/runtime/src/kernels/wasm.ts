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
import { maxPoolGradInto, poolInfo, type PoolAttrs } from './pool.js';
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
 * MaxPoolGrad as a direct loop over the wasm heap (see ./pool.ts for why the
 * stock wasm kernel cannot be used: it misroutes gradients of windows whose
 * maximum is <= 0).
 */
const maxPoolGrad: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const be = backend as BackendWasm;
  if (dy.dtype !== 'float32' || input.dtype !== 'float32') {
    const stock = stockKernel('MaxPoolGrad', WASM);
    if (!stock) throw new Error("stock wasm kernel 'MaxPoolGrad' missing");
    return stock.kernelFunc(args);
  }
  const info = poolInfo(input.shape, attrs as unknown as PoolAttrs, true);
  const out = be.makeOutput(input.shape, 'float32');
  // heap views are taken after the allocation (an allocation may grow and detach the heap)
  const dx = be.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  maxPoolGradInto(be.typedArrayFromHeap(input) as Float32Array, be.typedArrayFromHeap(dy) as Float32Array, info, dx);
  return out;
};

/**
 * wasm BatchMatMul runs XNNPACK's fully-connected operator only when neither
 * operand is transposed (and the batch is 1); any transpose sends it to a
 * scalar triple loop, and the backward pass of every dense layer asks for one.
 * XNNPACK also re-packs the right-hand operand ("weights") whenever it is a
 * tensor it has not seen, at ~8 ns/element, while the Transpose kernel moves
 * ~1 ns/element. So for C = op(A)·op(B) pick the cheaper of
 *   1. C = A'·B'          (weights B' = op(B),    K x N)
 *   2. C = (B'^T·A'^T)^T  (weights A'^T,          K x M, plus a transpose of C)
 * materialising transposes with the Transpose kernel, and call the stock
 * kernel untransposed. A right-hand operand seen before (e.g. inference
 * weights) keeps the stock path, whose packed operator XNNPACK caches.
 */
const seenWeights = new WeakSet<object>();
const PACK_COST = 8;

function matMulWasm(name: 'BatchMatMul' | '_FusedMatMul'): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const at = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const stock = stockKernel(name, WASM);
    if (!stock) throw new Error(`stock wasm kernel '${name}' missing`);
    const plain = a!.shape.length >= 2 && b!.shape.length >= 2 &&
      util.sizeFromShape(a!.shape.slice(0, -2)) === 1 && util.sizeFromShape(b!.shape.slice(0, -2)) === 1;
    const bSeen = seenWeights.has(b!.dataId as object);
    seenWeights.add(b!.dataId as object);
    if (!plain || a!.dtype !== 'float32' || b!.dtype !== 'float32') return stock.kernelFunc(args);
    const ra = a!.shape.length;
    const rb = b!.shape.length;
    const M = at.transposeA ? a!.shape[ra - 1] : a!.shape[ra - 2];
    const K = at.transposeA ? a!.shape[ra - 2] : a!.shape[ra - 1];
    const N = at.transposeB ? b!.shape[rb - 2] : b!.shape[rb - 1];
    if ((at.transposeB ? b!.shape[rb - 1] : b!.shape[rb - 2]) !== K) return stock.kernelFunc(args);
    const cost1 = (at.transposeA ? M * K : 0) + (at.transposeB ? N * K : 0) +
      (bSeen && !at.transposeB ? 0 : PACK_COST * K * N);
    const activation = (attrs as { activation?: string }).activation ?? 'linear';
    // option 2 transposes the product, so a bias is added afterwards (linear activation only)
    const swappable = preluActivationWeights == null && (bias == null || activation === 'linear');
    const cost2 = swappable ? (at.transposeB ? 0 : N * K) + (at.transposeA ? 0 : M * K) + PACK_COST * K * M + M * N
      : Number.POSITIVE_INFINITY;
    if (!at.transposeA && !at.transposeB && cost1 <= cost2) return stock.kernelFunc(args);
    const outShape = [...(ra >= rb ? a!.shape : b!.shape).slice(0, -2), M, N];
    return withScope(backend as BackendWasm, WASM, (s) => {
      const t2 = (x: TensorInfo, rows: number, cols: number): TensorInfo =>
        s.run('Transpose', { x: view(x, [rows, cols]) }, { perm: [1, 0] });
      // the stock kernels take rank-3 operands (_FusedMatMul indexes shape[1], shape[2] directly)
      const as3d = (t: TensorInfo): TensorInfo => view(t, [1, t.shape[t.shape.length - 2], t.shape[t.shape.length - 1]]);
      const plainAttrs = { ...attrs, transposeA: false, transposeB: false };
      const mm = (l: TensorInfo, r: TensorInfo): TensorInfo =>
        s.runStock(name, { ...inputs, a: as3d(l), b: as3d(r) }, plainAttrs);
      if (cost1 <= cost2) {
        const a2 = at.transposeA ? t2(a!, K, M) : view(a!, [M, K]);
        const b2 = at.transposeB ? t2(b!, N, K) : view(b!, [K, N]);
        return s.keep(mm(a2, b2), outShape);
      }
      const l = at.transposeB ? view(b!, [N, K]) : t2(b!, K, N); // op(B)^T  [N, K]
      const r = at.transposeA ? view(a!, [K, M]) : t2(a!, M, K); // op(A)^T  [K, M]
      const ct = s.runStock(name, { a: as3d(l), b: as3d(r) }, plainAttrs); // C^T [1, N, M]
      const c = t2(ct, N, M);
      return s.keep(bias == null ? c : s.run('Add', { a: view(c, outShape), b: bias }), outShape);
    });
  };
}

/**
 * _FusedMatMul: the fast cases go to matMulWasm; everything else (batch > 1)
 * is computed as BatchMatMul + Add + activation, because the stock kernel's
 * non-XNNPACK path indexes a rank-1 bias by the flat output index (it clamps
 * to bias[N-1] from the second row on).
 */
function fusedMatMulWasm(): KernelFunc {
  const fast = matMulWasm('_FusedMatMul');
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const plain = util.sizeFromShape(a!.shape.slice(0, -2)) === 1 && util.sizeFromShape(b!.shape.slice(0, -2)) === 1;
    if (plain || (bias == null && preluActivationWeights == null)) return fast(args);
    const at = attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
    return withScope(backend as BackendWasm, WASM, (s) => {
      let y = s.run('BatchMatMul', { a: a!, b: b! }, { transposeA: at.transposeA, transposeB: at.transposeB });
      if (bias != null) y = s.run('Add', { a: y, b: bias });
      switch (at.activation ?? 'linear') {
        case 'linear': break;
        case 'relu': y = s.run('Relu', { x: y }); break;
        case 'relu6': y = s.run('Relu6', { x: y }); break;
        case 'elu': y = s.run('Elu', { x: y }); break;
        case 'sigmoid': y = s.run('Sigmoid', { x: y }); break;
        case 'leakyrelu': y = s.run('LeakyRelu', { x: y }, { alpha: at.leakyreluAlpha ?? 0.2 }); break;
        case 'prelu': y = s.run('Prelu', { x: y, alpha: preluActivationWeights! }); break;
        default: throw new Error(`_FusedMatMul: unsupported activation ${at.activation}`);
      }
      return s.keep(y);
    });
  };
}

/**
 * Forward convolutions: the stock wasm kernels hand 'same' padding to XNNPACK
 * as XNN_FLAG_TENSORFLOW_SAME_PADDING, which gives wrong results for some
 * shapes (e.g. a 1x3 or 3x1 filter with stride 2, or strides (2, 1)).
 * Explicit padding is computed correctly, so resolve 'same' to the explicit
 * pads tfjs computes and call the stock kernel.
 */
function explicitSamePad(name: string, depthwise: boolean): KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const stock = stockKernel(name, WASM);
    if (!stock) throw new Error(`stock wasm kernel '${name}' missing`);
    const a = attrs as unknown as ConvAttrs;
    if (a.pad !== 'same' || (a.dataFormat != null && a.dataFormat !== 'NHWC')) return stock.kernelFunc(args);
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const g = geometry(x.shape as Shape4, filter.shape as Shape4, a.strides, a.dilations, 'same', a.dimRoundingMode,
      depthwise);
    const padH = Math.max(0, (g.outH - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.inH);
    const padW = Math.max(0, (g.outW - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.inW);
    const pad = [[0, 0], [g.pt, padH - g.pt], [g.pl, padW - g.pl], [0, 0]];
    return stock.kernelFunc({ ...args, attrs: { ...attrs, pad, dimRoundingMode: undefined } as unknown as NamedAttrMap });
  };
}

export const wasmKernelConfigs: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: WASM, kernelFunc: conv2DBackpropFilter },
  { kernelName: 'Conv2DBackpropInput', backendName: WASM, kernelFunc: conv2DBackpropInput },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: WASM, kernelFunc: depthwiseBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: WASM, kernelFunc: depthwiseBackpropInput },
  { kernelName: 'UnsortedSegmentSum', backendName: WASM, kernelFunc: unsortedSegmentSum },
  { kernelName: 'MaxPoolGrad', backendName: WASM, kernelFunc: maxPoolGrad },
  { kernelName: 'BatchMatMul', backendName: WASM, kernelFunc: matMulWasm('BatchMatMul') },
  { kernelName: '_FusedMatMul', backendName: WASM, kernelFunc: fusedMatMulWasm() },
  { kernelName: 'Conv2D', backendName: WASM, kernelFunc: explicitSamePad('Conv2D', false) },
  { kernelName: 'FusedConv2D', backendName: WASM, kernelFunc: explicitSamePad('FusedConv2D', false) },
  { kernelName: 'DepthwiseConv2dNative', backendName: WASM, kernelFunc: explicitSamePad('DepthwiseConv2dNative', true) },
  { kernelName: 'FusedDepthwiseConv2D', backendName: WASM, kernelFunc: explicitSamePad('FusedDepthwiseConv2D', true) },
];
