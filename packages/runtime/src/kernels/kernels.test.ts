/**
 * Every project kernel against the stock tfjs cpu kernels ('cpu-stock', the
 * reference), on seeded random shapes: strides 1 and 2, same / valid /
 * explicit padding, dilations, batch 1 and 32. Max abs diff < 1e-4.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { PROJECT_KERNELS, STOCK_CPU_BACKEND, registerProjectKernels } from './index.js';
import {
  dilateFilter,
  maxAbsDiff,
  randInt,
  rng,
  runKernelOn,
  undilateFilter,
  uniform,
  type HostTensor,
  type KernelResult,
} from './testing.js';

const TOL = 1e-4;
const BACKENDS = ['wasm', 'cpu'] as const;
type Be = (typeof BACKENDS)[number];

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  b: number;
  H: number;
  W: number;
  ci: number;
  co: number; // output channels, or the channel multiplier for depthwise
  kh: number;
  kw: number;
  s: [number, number];
  d: [number, number];
  pad: Pad;
}

/** The case list: batch {1, 32} x (strides {1, 2, (2,1)} x pads + dilated cases). */
function convCases(seed: number): ConvCase[] {
  const r = rng(seed);
  const cases: ConvCase[] = [];
  const combos: Array<{ s: [number, number]; d: [number, number]; pad: 'same' | 'valid' | 'explicit' }> = [
    { s: [1, 1], d: [1, 1], pad: 'same' },
    { s: [1, 1], d: [1, 1], pad: 'valid' },
    { s: [1, 1], d: [1, 1], pad: 'explicit' },
    { s: [2, 2], d: [1, 1], pad: 'same' },
    { s: [2, 2], d: [1, 1], pad: 'valid' },
    { s: [2, 2], d: [1, 1], pad: 'explicit' },
    { s: [2, 1], d: [1, 1], pad: 'same' },
    { s: [1, 1], d: [2, 2], pad: 'same' },
    { s: [1, 1], d: [2, 1], pad: 'valid' },
    { s: [1, 1], d: [2, 2], pad: 'explicit' },
  ];
  for (const b of [1, 32]) {
    for (const c of combos) {
      const big = b === 1;
      const kh = randInt(r, 1, 3);
      const kw = randInt(r, 1, 3);
      const ekh = (kh - 1) * c.d[0] + 1;
      const ekw = (kw - 1) * c.d[1] + 1;
      const H = randInt(r, ekh + 1, big ? 13 : 8);
      const W = randInt(r, ekw + 1, big ? 13 : 8);
      const pad: Pad =
        c.pad === 'explicit'
          ? [[0, 0], [randInt(r, 0, 2), randInt(r, 0, 2)], [randInt(r, 0, 2), randInt(r, 0, 2)], [0, 0]]
          : c.pad;
      cases.push({ b, H, W, ci: randInt(r, 1, big ? 6 : 4), co: randInt(r, 1, big ? 6 : 4), kh, kw, s: c.s, d: c.d, pad });
    }
  }
  return cases;
}

function outShape(c: ConvCase, depthwise: boolean): [number, number, number, number] {
  const info = tf.backend_util.computeConv2DInfo(
    [c.b, c.H, c.W, c.ci],
    [c.kh, c.kw, c.ci, c.co],
    c.s,
    c.d,
    c.pad,
    undefined,
    depthwise,
  );
  return info.outShape;
}

const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const label = (c: ConvCase): string =>
  `b${c.b} ${c.H}x${c.W}x${c.ci} k${c.kh}x${c.kw}->${c.co} s${c.s} d${c.d} ${JSON.stringify(c.pad)}`;

interface Check {
  name: string;
  kernel: string;
  inputs: Record<string, HostTensor | undefined>;
  attrs: tf.NamedAttrMap;
  /** Reference computed differently from a plain stock call (dilations). */
  reference?: () => Promise<KernelResult>;
}

async function compare(checks: Check[], be: Be): Promise<{ worst: number; where: string }> {
  let worst = 0;
  let where = '';
  for (const c of checks) {
    const ref = c.reference ? await c.reference() : await runKernelOn(STOCK_CPU_BACKEND, c.kernel, c.inputs, c.attrs);
    const got = await runKernelOn(be, c.kernel, c.inputs, c.attrs);
    assert.deepEqual(got.shape, ref.shape, `${c.name}: shape`);
    const d = maxAbsDiff(got.values, ref.values);
    if (!(d <= worst)) {
      worst = d;
      where = c.name;
    }
  }
  return { worst, where };
}

function filterGradChecks(seed: number, depthwise: boolean): Check[] {
  const r = rng(seed);
  const kernel = depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter';
  return convCases(seed).map((c) => {
    const os = outShape(c, depthwise);
    const x: HostTensor = { values: uniform(r, c.b * c.H * c.W * c.ci), shape: [c.b, c.H, c.W, c.ci] };
    const dy: HostTensor = { values: uniform(r, size(os)), shape: os };
    const filterShape = [c.kh, c.kw, c.ci, c.co];
    const attrs: tf.NamedAttrMap = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: c.d, filterShape };
    const dilated = c.d[0] > 1 || c.d[1] > 1;
    return {
      name: label(c),
      kernel,
      inputs: { x, dy },
      attrs,
      // stock kernels ignore (cpu depthwise) or lack (Conv2DBackpropFilter) dilations:
      // the gradient of the equivalent zero-expanded filter, sampled at the taps
      reference: dilated
        ? async () => {
            const eShape = [(c.kh - 1) * c.d[0] + 1, (c.kw - 1) * c.d[1] + 1, c.ci, c.co];
            const g = await runKernelOn(STOCK_CPU_BACKEND, kernel, { x, dy }, {
              ...attrs,
              dilations: [1, 1],
              filterShape: eShape,
            });
            return { shape: filterShape, values: undilateFilter(g.values, eShape, c.kh, c.kw, c.d[0], c.d[1]) };
          }
        : undefined,
    };
  });
}

function inputGradChecks(seed: number, depthwise: boolean): Check[] {
  const r = rng(seed);
  const kernel = depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput';
  return convCases(seed).map((c) => {
    const os = outShape(c, depthwise);
    const fShape = [c.kh, c.kw, c.ci, c.co];
    const filter: HostTensor = { values: uniform(r, size(fShape)), shape: fShape };
    const dy: HostTensor = { values: uniform(r, size(os)), shape: os };
    const inputShape = [c.b, c.H, c.W, c.ci];
    const attrs: tf.NamedAttrMap = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: c.d, inputShape };
    const dilated = c.d[0] > 1 || c.d[1] > 1;
    return {
      name: label(c),
      kernel,
      inputs: { dy, filter },
      attrs,
      reference: dilated
        ? () =>
            runKernelOn(STOCK_CPU_BACKEND, kernel, {
              dy,
              filter: dilateFilter(filter.values as Float32Array, fShape, c.d[0], c.d[1]),
            }, { ...attrs, dilations: [1, 1] })
        : undefined,
    };
  });
}

function forwardConvChecks(seed: number, fused: boolean, depthwise = false): Check[] {
  const r = rng(seed);
  const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'];
  return convCases(seed).map((c, i) => {
    const fShape = [c.kh, c.kw, c.ci, c.co];
    const inputs: Record<string, HostTensor | undefined> = {
      x: { values: uniform(r, c.b * c.H * c.W * c.ci), shape: [c.b, c.H, c.W, c.ci] },
      filter: { values: uniform(r, size(fShape)), shape: fShape },
    };
    const attrs: tf.NamedAttrMap = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: c.d };
    if (fused) {
      inputs.bias = { values: uniform(r, depthwise ? c.ci * c.co : c.co), shape: [depthwise ? c.ci * c.co : c.co] };
      attrs.activation = activations[i % activations.length];
      attrs.leakyreluAlpha = 0.3;
    }
    const kernel = depthwise ? (fused ? 'FusedDepthwiseConv2D' : 'DepthwiseConv2dNative') : (fused ? 'FusedConv2D' : 'Conv2D');
    return { name: `${label(c)} ${attrs.activation ?? ''}`, kernel, inputs, attrs };
  });
}

function poolGradChecks(seed: number, kind: 'MaxPoolGrad' | 'AvgPoolGrad'): Check[] {
  const r = rng(seed);
  const checks: Check[] = [];
  for (const b of [1, 32]) {
    for (const [f, s, pad] of [[2, 2, 'valid'], [2, 2, 'same'], [3, 2, 'same'], [3, 1, 'same'], [3, 2, 'valid'], [2, 1, 'valid']] as const) {
      const H = randInt(r, f + 1, b === 1 ? 12 : 8);
      const W = randInt(r, f + 1, b === 1 ? 12 : 8);
      const C = randInt(r, 1, 5);
      const xShape = [b, H, W, C];
      // coarse values (many ties) with negatives and ReLU-style zeros: where
      // tie-breaking and the running-max seed matter
      const xv = uniform(r, size(xShape), -1, 1).map((v, i) => (i % 3 === 0 ? Math.max(0, v) : Math.round(v * 4) / 4));
      const info = tf.backend_util.computePool2DInfo([b, H, W, C], f, s, 1, pad);
      const os = info.outShape;
      checks.push({
        name: `b${b} ${H}x${W}x${C} f${f} s${s} ${pad}`,
        kernel: kind,
        inputs: {
          dy: { values: uniform(r, size(os)), shape: os },
          input: { values: xv, shape: xShape },
          output: { values: new Float32Array(size(os)), shape: os }, // unused by the kernels
        },
        attrs: { filterSize: f, strides: s, pad },
      });
    }
  }
  return checks;
}

function segmentSumChecks(seed: number): Check[] {
  const r = rng(seed);
  const checks: Check[] = [];
  const shapes: Array<[number[], number[], number, boolean]> = [
    // [idsShape, innerShape, numSegments, withInvalidIds]
    [[1], [3], 2, false],
    [[32], [4], 10, false],
    [[32], [], 7, false],
    [[20], [3], 6, false],
    [[40], [2, 3], 50, false],
    [[16], [4], 5, true],
  ];
  for (const [ids, inner, n, invalid] of shapes) {
    const count = size(ids);
    const segs = Int32Array.from({ length: count }, () => randInt(r, 0, n - 1));
    if (invalid) {
      segs[0] = -1;
      segs[3] = n + 2;
    }
    for (const dtype of ['float32', 'int32'] as const) {
      const xv = dtype === 'float32'
        ? uniform(r, count * size(inner))
        : Int32Array.from({ length: count * size(inner) }, () => randInt(r, -5, 5));
      checks.push({
        name: `ids[${ids}] inner[${inner}] n${n} ${dtype}${invalid ? ' invalid-ids' : ''}`,
        kernel: 'UnsortedSegmentSum',
        inputs: {
          x: { values: xv, shape: [...ids, ...inner], dtype },
          segmentIds: { values: segs, shape: ids, dtype: 'int32' },
        },
        attrs: { numSegments: n },
      });
    }
  }
  return checks;
}

function matMulChecks(seed: number, fused: boolean): Check[] {
  const r = rng(seed);
  const checks: Check[] = [];
  const dims: Array<[number, number, number, number]> = [
    [1, 1, 5, 3], [1, 32, 20, 10], [1, 7, 1, 9], [1, 33, 17, 65], [3, 4, 6, 5], [1, 64, 96, 16],
  ];
  for (const [batch, M, K, N] of dims) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const aShape = tA ? [K, M] : [M, K];
        const bShape = tB ? [N, K] : [K, N];
        // tf.matMul hands BatchMatMul any rank; tf.fused.matMul always hands _FusedMatMul rank 3
        const lead = batch > 1 || fused ? [batch] : [];
        const inputs: Record<string, HostTensor | undefined> = {
          a: { values: uniform(r, batch * M * K), shape: [...lead, ...aShape] },
          b: { values: uniform(r, batch * K * N), shape: [...lead, ...bShape] },
        };
        const attrs: tf.NamedAttrMap = { transposeA: tA, transposeB: tB };
        if (fused) {
          const withBias = (M + N) % 2 === 0 || tA;
          if (withBias) inputs.bias = { values: uniform(r, N), shape: [N] };
          attrs.activation = withBias && tB ? 'linear' : 'relu';
        }
        checks.push({ name: `${batch}x[${M}x${K}]·[${K}x${N}] tA=${tA} tB=${tB} ${attrs.activation ?? ''}`,
          kernel: fused ? '_FusedMatMul' : 'BatchMatMul', inputs, attrs });
      }
    }
  }
  return checks;
}

function nchwChecks(seed: number): Check[] {
  const r = rng(seed);
  const checks: Check[] = [];
  for (const c of convCases(seed).filter((k) => k.d[0] === 1 && k.d[1] === 1 && !Array.isArray(k.pad)).slice(0, 6)) {
    const os = outShape(c, false); // NHWC
    const osC = [os[0], os[3], os[1], os[2]];
    const x: HostTensor = { values: uniform(r, c.b * c.H * c.W * c.ci), shape: [c.b, c.ci, c.H, c.W] };
    const dy: HostTensor = { values: uniform(r, size(os)), shape: osC };
    const fShape = [c.kh, c.kw, c.ci, c.co];
    const common = { strides: c.s, pad: c.pad, dataFormat: 'NCHW' };
    checks.push({ name: `NCHW filter ${label(c)}`, kernel: 'Conv2DBackpropFilter', inputs: { x, dy },
      attrs: { ...common, filterShape: fShape } });
    checks.push({ name: `NCHW input ${label(c)}`, kernel: 'Conv2DBackpropInput',
      inputs: { dy, filter: { values: uniform(r, size(fShape)), shape: fShape } },
      attrs: { ...common, inputShape: [c.b, c.ci, c.H, c.W] } });
  }
  return checks;
}

function binaryChecks(seed: number, kernel: string): Check[] {
  const r = rng(seed);
  const pairs: Array<[number[], number[]]> = [
    [[32, 6, 6, 5], [32, 6, 6, 5]], // same shape
    [[32, 6, 6, 5], [5]], // bias add
    [[5], [4, 3, 5]], // broadcast on the left operand
    [[7, 3], []], // scalar
    [[], [7, 3]],
    [[1, 3], [4, 1]], // two-sided broadcast (stock path)
    [[4, 3, 5], [3, 1]], // non-suffix broadcast (stock path)
  ];
  return pairs.map(([sa, sb]) => ({
    name: `[${sa}] ${kernel} [${sb}]`,
    kernel,
    inputs: { a: { values: uniform(r, size(sa)), shape: sa }, b: { values: uniform(r, size(sb)), shape: sb } },
    attrs: {},
  }));
}

function unaryChecks(seed: number, kernel: string): Check[] {
  const r = rng(seed);
  return [[32, 5, 5, 3], [7], [1]].map((s, i) => ({
    name: `${kernel} [${s}]`,
    kernel,
    inputs: { x: { values: uniform(r, size(s)).map((v, j) => (j % 5 === 0 ? 0 : v)), shape: s } },
    attrs: (kernel === 'Step' ? { alpha: i === 0 ? 0 : 0.25 } : {}) as tf.NamedAttrMap,
  }));
}

function sumChecks(seed: number): Check[] {
  const r = rng(seed);
  const cases: Array<[number[], number | number[], boolean]> = [
    [[32, 6, 6, 5], [0, 1, 2], false], // bias gradient
    [[32, 6, 6, 5], [0, 1, 2], true],
    [[32, 10], 1, false], // per-sample loss
    [[32, 10], [0, 1], false],
    [[4, 5, 6], [-1, -2], true],
    [[4, 5, 6], [1], false], // middle axis (stock path)
    [[8], 0, false],
  ];
  return cases.map(([s, axis, keepDims]) => ({
    name: `Sum [${s}] axis ${JSON.stringify(axis)} keepDims ${keepDims}`,
    kernel: 'Sum',
    inputs: { x: { values: uniform(r, size(s)), shape: s } },
    attrs: { axis, keepDims },
  }));
}

function maxPoolChecks(seed: number): Check[] {
  return poolGradChecks(seed, 'MaxPoolGrad').map((c) => ({
    name: c.name,
    kernel: 'MaxPool',
    inputs: { x: c.inputs.input },
    attrs: c.attrs,
  }));
}

const SUITES: Array<{ kernel: string; checks: () => Check[] }> = [
  { kernel: 'Conv2DBackpropFilter', checks: () => filterGradChecks(11, false) },
  { kernel: 'Conv2DBackpropInput', checks: () => inputGradChecks(12, false) },
  { kernel: 'DepthwiseConv2dNativeBackpropFilter', checks: () => filterGradChecks(13, true) },
  { kernel: 'DepthwiseConv2dNativeBackpropInput', checks: () => inputGradChecks(14, true) },
  { kernel: 'Conv2D', checks: () => forwardConvChecks(15, false) },
  { kernel: 'FusedConv2D', checks: () => forwardConvChecks(16, true) },
  { kernel: 'DepthwiseConv2dNative', checks: () => forwardConvChecks(23, false, true) },
  { kernel: 'FusedDepthwiseConv2D', checks: () => forwardConvChecks(24, true, true) },
  { kernel: 'MaxPoolGrad', checks: () => poolGradChecks(17, 'MaxPoolGrad') },
  { kernel: 'AvgPoolGrad', checks: () => poolGradChecks(18, 'AvgPoolGrad') },
  { kernel: 'UnsortedSegmentSum', checks: () => segmentSumChecks(19) },
  { kernel: 'BatchMatMul', checks: () => matMulChecks(20, false) },
  { kernel: '_FusedMatMul', checks: () => matMulChecks(21, true) },
  { kernel: 'Add', checks: () => binaryChecks(25, 'Add') },
  { kernel: 'Sub', checks: () => binaryChecks(26, 'Sub') },
  { kernel: 'Multiply', checks: () => binaryChecks(27, 'Multiply') },
  { kernel: 'Relu', checks: () => unaryChecks(28, 'Relu') },
  { kernel: 'Step', checks: () => unaryChecks(29, 'Step') },
  { kernel: 'Sum', checks: () => sumChecks(30) },
  { kernel: 'MaxPool', checks: () => maxPoolChecks(38) },
];

/** Stock kernels on the training path that are checked too (they are kept, not replaced). */
const STOCK_ALSO_CHECKED: Record<Be, string[]> = { wasm: ['AvgPoolGrad'], cpu: [] };

describe('project kernels vs stock tfjs cpu', function () {
  this.timeout(120_000);

  before(async () => {
    registerProjectKernels('wasm');
    registerProjectKernels('cpu');
    assert.ok(await tf.setBackend('wasm'), 'wasm backend loads');
  });

  it('registers a project kernel for every training kernel wasm lacks', () => {
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum', 'MaxPoolGrad']) {
      assert.ok(PROJECT_KERNELS.wasm.includes(k), k);
      assert.ok(tf.getKernel(k, 'wasm'), `${k} registered for wasm`);
    }
    assert.ok(tf.getKernel('Conv2DBackpropFilter', STOCK_CPU_BACKEND), 'stock cpu kept as cpu-stock');
    assert.notEqual(tf.getKernel('Conv2DBackpropFilter', STOCK_CPU_BACKEND).kernelFunc,
      tf.getKernel('Conv2DBackpropFilter', 'cpu').kernelFunc);
  });

  for (const suite of SUITES) {
    for (const be of BACKENDS) {
      const ours = PROJECT_KERNELS[be].includes(suite.kernel);
      if (!ours && !STOCK_ALSO_CHECKED[be].includes(suite.kernel)) continue;
      it(`${suite.kernel} on ${be}${ours ? '' : ' (stock kernel)'}`, async () => {
        const { worst, where } = await compare(suite.checks(), be);
        assert.ok(worst < TOL, `${suite.kernel}/${be}: max abs diff ${worst} at ${where}`);
      });
    }
  }

  for (const be of BACKENDS) {
    it(`Conv2DBackprop{Filter,Input} NCHW on ${be}`, async () => {
      const { worst, where } = await compare(nchwChecks(22), be);
      assert.ok(worst < TOL, `NCHW/${be}: max abs diff ${worst} at ${where}`);
    });
  }

  it('does not leak tensors or backend data', async () => {
    for (const be of BACKENDS) {
      await tf.setBackend(be);
      const checks = [
        ...filterGradChecks(31, false).slice(0, 4),
        ...inputGradChecks(32, false).slice(0, 4),
        ...filterGradChecks(33, true).slice(0, 4),
        ...inputGradChecks(34, true).slice(0, 4),
        ...poolGradChecks(35, 'MaxPoolGrad').slice(0, 2),
        ...segmentSumChecks(36).slice(0, 4),
        ...matMulChecks(37, false).slice(0, 8),
      ].filter((c) => PROJECT_KERNELS[be].includes(c.kernel));
      await runKernelOn(be, checks[0].kernel, checks[0].inputs, checks[0].attrs); // warm-up
      const tensors = tf.memory().numTensors;
      const data = tf.engine().backend.numDataIds();
      for (const c of checks) await runKernelOn(be, c.kernel, c.inputs, c.attrs);
      assert.equal(tf.memory().numTensors, tensors, `${be}: tensors`);
      assert.equal(tf.engine().backend.numDataIds(), data, `${be}: backend data ids`);
    }
  });
});
