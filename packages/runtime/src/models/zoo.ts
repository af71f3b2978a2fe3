// The model zoo as plain data: unit specs, shape inference, weight shapes, parameter and FLOP counts.
// No tfjs here, so the planner side and validators can use it cheaply. Imported models (models/import/)
// are the same data, registered under a name (registry.ts), and every lookup here consults that registry.
import type { ImportedLayerSpec, ImportSource } from './import/spec.js';
import { putModel, registeredModel, registeredNames } from './registry.js';

export type Activation = 'relu' | 'linear';

export type LayerSpec =
  | { kind: 'flatten' }
  | { kind: 'dense'; units: number; activation: Activation }
  | { kind: 'conv2d'; filters: number; kernel: number; stride: number; padding: 'same' | 'valid'; activation: Activation }
  | { kind: 'maxpool'; pool: number; stride: number }
  /** 3x3 conv (stride s) + relu, 3x3 conv, + shortcut (identity, or 1x1 conv stride s when shape changes), relu. */
  | { kind: 'resblock'; filters: number; stride: number }
  /** One unit of an imported tfjs Layers model: a chain of its layers (see models/import/spec.ts). */
  | ImportedLayerSpec;

export interface UnitSpec {
  name: string;
  layer: LayerSpec;
}

export interface ModelSpec {
  name: string;
  description: string;
  inputShape: number[];
  numClasses: number;
  units: UnitSpec[];
  /** Set for models imported from a tfjs Layers model.json (not zoo models). */
  imported?: ImportSource;
}

export interface ModelInfo {
  name: string;
  inputShape: number[];
  numClasses: number;
  numUnits: number;
  unitNames: string[];
}

const conv = (filters: number, kernel = 3, padding: 'same' | 'valid' = 'valid', stride = 1): LayerSpec => ({
  kind: 'conv2d', filters, kernel, stride, padding, activation: 'relu',
});
const pool = (p = 2): LayerSpec => ({ kind: 'maxpool', pool: p, stride: p });
const dense = (units: number, activation: Activation = 'relu'): LayerSpec => ({ kind: 'dense', units, activation });

const ZOO: ModelSpec[] = [
  {
    name: 'mlp-mnist',
    description: 'MLP for 28x28x1: flatten, dense 128 relu, dense 64 relu, dense 10',
    inputShape: [28, 28, 1],
    numClasses: 10,
    units: [
      { name: 'flatten', layer: { kind: 'flatten' } },
      { name: 'dense1', layer: dense(128) },
      { name: 'dense2', layer: dense(64) },
      { name: 'logits', layer: dense(10, 'linear') },
    ],
  },
  {
    name: 'cnn-mnist',
    description: 'CNN for 28x28x1: conv3x3x16, pool, conv3x3x32, pool, flatten, dense 64, dense 10 (valid padding)',
    inputShape: [28, 28, 1],
    numClasses: 10,
    units: [
      { name: 'conv1', layer: conv(16) },
      { name: 'pool1', layer: pool() },
      { name: 'conv2', layer: conv(32) },
      { name: 'pool2', layer: pool() },
      { name: 'flatten', layer: { kind: 'flatten' } },
      { name: 'dense1', layer: dense(64) },
      { name: 'logits', layer: dense(10, 'linear') },
    ],
  },
  {
    name: 'cnn-cifar',
    description: 'small VGG for 32x32x3: 2x(conv16 same), pool, 2x(conv32 same), pool, flatten, dense 64, dense 10',
    inputShape: [32, 32, 3],
    numClasses: 10,
    units: [
      { name: 'conv1a', layer: conv(16, 3, 'same') },
      { name: 'conv1b', layer: conv(16, 3, 'same') },
      { name: 'pool1', layer: pool() },
      { name: 'conv2a', layer: conv(32, 3, 'same') },
      { name: 'conv2b', layer: conv(32, 3, 'same') },
      { name: 'pool2', layer: pool() },
      { name: 'flatten', layer: { kind: 'flatten' } },
      { name: 'dense1', layer: dense(64) },
      { name: 'logits', layer: dense(10, 'linear') },
    ],
  },
  {
    name: 'resnet-mini',
    // Flatten rather than global average pooling: without batch norm, a GAP head trains far slower under plain SGD.
    description: 'residual net for 28x28x1: stem conv3x3x16 same, resblocks 16, 32/2, 64/2, flatten, dense 10',
    inputShape: [28, 28, 1],
    numClasses: 10,
    units: [
      { name: 'stem', layer: conv(16, 3, 'same') },
      { name: 'block1', layer: { kind: 'resblock', filters: 16, stride: 1 } },
      { name: 'block2', layer: { kind: 'resblock', filters: 32, stride: 2 } },
      { name: 'block3', layer: { kind: 'resblock', filters: 64, stride: 2 } },
      { name: 'flatten', layer: { kind: 'flatten' } },
      { name: 'logits', layer: dense(10, 'linear') },
    ],
  },
];

const BY_NAME = new Map(ZOO.map((m) => [m.name, m]));

/** Zoo model names, then the names registered with registerModel() (in registration order). */
export function listModels(): string[] {
  return [...ZOO.map((m) => m.name), ...registeredNames()];
}

/** Whether `name` is a zoo model (registerModel refuses these names). */
export function isZooModel(name: string): boolean {
  return BY_NAME.has(name);
}

export function modelSpec(name: string): ModelSpec {
  const m = BY_NAME.get(name) ?? registeredModel(name);
  if (!m) throw new Error(`unknown model '${name}' (valid: ${listModels().join(', ')})`);
  return m;
}

export function modelInfo(name: string): ModelInfo {
  const m = modelSpec(name);
  return {
    name: m.name,
    inputShape: m.inputShape.slice(),
    numClasses: m.numClasses,
    numUnits: m.units.length,
    unitNames: m.units.map((u) => u.name),
  };
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function convOut(size: number, kernel: number, stride: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernel) / stride) + 1;
}

/** Per-sample output shape of one layer spec given its per-sample input shape. */
export function layerOutputShape(l: LayerSpec, input: number[]): number[] {
  const need3 = () => {
    if (input.length !== 3) throw new Error(`${l.kind} needs an [H,W,C] input, got [${input.join(',')}]`);
    return input as [number, number, number];
  };
  switch (l.kind) {
    case 'flatten':
      return [prod(input)];
    case 'dense':
      if (input.length !== 1) throw new Error(`dense needs a flat input, got [${input.join(',')}]`);
      return [l.units];
    case 'conv2d': {
      const [h, w] = need3();
      return [convOut(h, l.kernel, l.stride, l.padding), convOut(w, l.kernel, l.stride, l.padding), l.filters];
    }
    case 'maxpool': {
      const [h, w, c] = need3();
      return [convOut(h, l.pool, l.stride, 'valid'), convOut(w, l.pool, l.stride, 'valid'), c];
    }
    case 'resblock': {
      const [h, w] = need3();
      return [Math.ceil(h / l.stride), Math.ceil(w / l.stride), l.filters];
    }
    case 'imported': {
      const first = l.layers[0]!;
      if (first.inputShape.join(',') !== input.join(',')) {
        throw new Error(`imported layer ${first.name} takes [${first.inputShape.join(',')}], got [${input.join(',')}]`);
      }
      return l.layers[l.layers.length - 1]!.outputShape.slice();
    }
  }
}

/** Per-sample shape after k units (k = 0: input shape; k = L: [numClasses]). */
export function unitOutputShape(name: string, k: number): number[] {
  return specOutputShape(modelSpec(name), k);
}

/** unitOutputShape on a spec (registered or not). */
export function specOutputShape(m: ModelSpec, k: number): number[] {
  checkCut(m, k, 'k');
  let s = m.inputShape.slice();
  for (let i = 0; i < k; i++) s = layerOutputShape(m.units[i]!.layer, s);
  return s;
}

export function checkCut(m: ModelSpec, k: number, what: string): void {
  if (!Number.isInteger(k) || k < 0 || k > m.units.length) {
    throw new Error(`${what} = ${k} is not a cut of ${m.name} (integers 0..${m.units.length})`);
  }
}

export function checkRange(m: ModelSpec, start: number, end: number): void {
  checkCut(m, start, 'start');
  checkCut(m, end, 'end');
  if (start > end) throw new Error(`start ${start} > end ${end} for ${m.name}`);
}

/** One weight tensor of a unit: shape, fan in/out and initialiser family. */
export interface WeightSpec {
  /** Name of the tfjs-layers layer holding it (unique within the full model). */
  layer: string;
  /**
   * The weight's name within its layer: 'kernel' or 'bias' for zoo models; for imported models whatever the
   * layer calls it ('kernel', 'bias', 'gamma', 'moving_mean', 'depthwise_kernel', ...). The tfjs variable is
   * named `${layer}/${param}`.
   */
  param: string;
  shape: number[];
  /**
   * He-uniform for kernels feeding a relu, Glorot-uniform for linear outputs, zeros for biases; 'file' for
   * imported models, whose initial weights are the values in the imported file.
   */
  init: 'he' | 'glorot' | 'zeros' | 'file';
  fanIn: number;
  fanOut: number;
  /**
   * false for weights SGD must not change: BatchNormalization moving statistics and the weights of layers
   * imported with trainable: false. Absent (zoo) means true. Such weights still travel, average and export.
   */
  trainable?: boolean;
}

/** tfjs-layers layer name prefix of unit k (units' layers are named `${unitLayerPrefix}` or `${prefix}_part`). */
export function unitLayerPrefix(m: ModelSpec, k: number): string {
  return `u${k}_${m.units[k]!.name}`;
}

/** Weight tensors of unit k in the fixed order used by getWeights/setWeights/fedAvg/checkpoints. */
export function unitWeightSpecs(m: ModelSpec, k: number): WeightSpec[] {
  const input = specOutputShape(m, k);
  const l = m.units[k]!.layer;
  const p = unitLayerPrefix(m, k);
  const convW = (layer: string, kk: number, cin: number, f: number, init: 'he' | 'glorot'): WeightSpec[] => [
    { layer, param: 'kernel', shape: [kk, kk, cin, f], init, fanIn: kk * kk * cin, fanOut: kk * kk * f },
    { layer, param: 'bias', shape: [f], init: 'zeros', fanIn: kk * kk * cin, fanOut: kk * kk * f },
  ];
  switch (l.kind) {
    case 'dense': {
      const init = l.activation === 'relu' ? 'he' : 'glorot';
      return [
        { layer: p, param: 'kernel', shape: [input[0]!, l.units], init, fanIn: input[0]!, fanOut: l.units },
        { layer: p, param: 'bias', shape: [l.units], init: 'zeros', fanIn: input[0]!, fanOut: l.units },
      ];
    }
    case 'conv2d':
      return convW(p, l.kernel, input[2]!, l.filters, l.activation === 'relu' ? 'he' : 'glorot');
    case 'resblock': {
      const cin = input[2]!;
      const ws = [...convW(`${p}_a`, 3, cin, l.filters, 'he'), ...convW(`${p}_b`, 3, l.filters, l.filters, 'glorot')];
      if (resblockNeedsProjection(l, cin)) ws.push(...convW(`${p}_proj`, 1, cin, l.filters, 'glorot'));
      return ws;
    }
    case 'imported':
      return l.layers.flatMap((layer) =>
        layer.weights.map((w) => ({
          layer: layer.name,
          param: w.param,
          shape: w.shape.slice(),
          init: 'file' as const,
          fanIn: w.shape.length > 1 ? prod(w.shape.slice(0, -1)) : w.shape[0] ?? 1,
          fanOut: w.shape.at(-1) ?? 1,
          trainable: w.trainable,
        })),
      );
    default:
      return [];
  }
}

export function resblockNeedsProjection(l: { filters: number; stride: number }, cin: number): boolean {
  return l.stride !== 1 || cin !== l.filters;
}

export function rangeWeightSpecs(name: string, start: number, end: number): WeightSpec[] {
  return specRangeWeightSpecs(modelSpec(name), start, end);
}

/** rangeWeightSpecs on a spec (registered or not). */
export function specRangeWeightSpecs(m: ModelSpec, start: number, end: number): WeightSpec[] {
  checkRange(m, start, end);
  const out: WeightSpec[] = [];
  for (let k = start; k < end; k++) out.push(...unitWeightSpecs(m, k));
  return out;
}

/** Forward FLOPs per sample of unit k (multiply-add = 2; bias, activation, add, pooling compare = 1 each). */
export function unitFlops(m: ModelSpec, k: number): number {
  const input = specOutputShape(m, k);
  const out = layerOutputShape(m.units[k]!.layer, input);
  const l = m.units[k]!.layer;
  const convFlops = (kk: number, cin: number, outShape: number[], relu: boolean) =>
    prod(outShape) * (2 * kk * kk * cin + 1 + (relu ? 1 : 0));
  switch (l.kind) {
    case 'flatten':
      return 0;
    case 'dense':
      return l.units * (2 * input[0]! + 1 + (l.activation === 'relu' ? 1 : 0));
    case 'conv2d':
      return convFlops(l.kernel, input[2]!, out, l.activation === 'relu');
    case 'maxpool':
      return prod(out) * l.pool * l.pool;
    case 'resblock': {
      const cin = input[2]!;
      let f = convFlops(3, cin, out, true) + convFlops(3, l.filters, out, false) + 2 * prod(out);
      if (resblockNeedsProjection(l, cin)) f += convFlops(1, cin, out, false);
      return f;
    }
    case 'imported':
      return l.layers.reduce((a, layer) => a + layer.flops, 0);
  }
}

/** Activation elements per sample unit k creates in training (its output and, for blocks, the intermediates). */
export function unitActivationElements(m: ModelSpec, k: number): number {
  const input = specOutputShape(m, k);
  const l = m.units[k]!.layer;
  // every layer of an imported unit keeps its output
  if (l.kind === 'imported') return l.layers.reduce((a, layer) => a + prod(layer.outputShape), 0);
  const out = prod(layerOutputShape(l, input));
  if (l.kind !== 'resblock') return out;
  // conv a, conv b, shortcut projection (if any), add, relu
  return out * (4 + (resblockNeedsProjection(l, input[2]!) ? 1 : 0));
}

/**
 * Registers `spec` (an imported model: see importLayersModel) under `name`, so that modelSpec/modelInfo,
 * SubModel.create, tierWeightShapes, modelSizes, modelProfile, exportCheckpoint ... find it like a zoo
 * model. Refuses zoo names, invalid names, an existing name unless opts.replace, and inconsistent specs.
 */
export function registerModel(name: string, spec: ModelSpec, opts: { replace?: boolean } = {}): ModelInfo {
  if (BY_NAME.has(name)) throw new Error(`'${name}' is a zoo model: register an imported model under another name`);
  checkSpec(spec);
  putModel(name, spec, opts.replace ?? false);
  return modelInfo(name);
}

/** Consistency of a spec: units, shapes through every unit ending in [numClasses], initial weights of imported units. */
export function checkSpec(m: ModelSpec): void {
  const what = `model '${m.name}'`;
  if (!Array.isArray(m.units) || m.units.length === 0) throw new Error(`${what} has no units`);
  if (!Number.isInteger(m.numClasses) || m.numClasses < 2) throw new Error(`${what}: numClasses must be an integer >= 2, got ${m.numClasses}`);
  if (!m.inputShape.length || m.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`${what}: input shape [${m.inputShape.join(',')}] must be positive integers`);
  }
  const out = specOutputShape(m, m.units.length);
  if (out.length !== 1 || out[0] !== m.numClasses) throw new Error(`${what} outputs [${out.join(',')}], expected [${m.numClasses}] class logits`);
  m.units.forEach((u, k) => {
    const specs = unitWeightSpecs(m, k);
    if (u.layer.kind !== 'imported') return;
    const init = u.layer.initial;
    if (init.length !== specs.length || specs.some((s, i) => init[i]!.length !== prod(s.shape))) {
      throw new Error(`${what}: unit ${k} (${u.name}) initial weights do not match its weight shapes`);
    }
  });
}
