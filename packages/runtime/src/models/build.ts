// Building tfjs-layers graphs for ranges of units, and seeded initial weights.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mixSeed, seededRandom } from '../data/random.js';
import { instantiateLayer, paramName } from './import/layers.js';
import { type ModelSpec, type WeightSpec, resblockNeedsProjection, specOutputShape, unitLayerPrefix, unitWeightSpecs } from './zoo.js';

type Sym = tfl.SymbolicTensor;

function applyUnit(m: ModelSpec, k: number, x: Sym): Sym {
  const l = m.units[k]!.layer;
  const name = unitLayerPrefix(m, k);
  const zeros = { kernelInitializer: 'zeros' as const, biasInitializer: 'zeros' as const };
  switch (l.kind) {
    case 'flatten':
      return tfl.layers.flatten({ name }).apply(x) as Sym;
    case 'dense':
      return tfl.layers.dense({ units: l.units, activation: l.activation, name, ...zeros }).apply(x) as Sym;
    case 'conv2d':
      return tfl.layers
        .conv2d({ filters: l.filters, kernelSize: l.kernel, strides: l.stride, padding: l.padding, activation: l.activation, name, ...zeros })
        .apply(x) as Sym;
    case 'maxpool':
      return tfl.layers.maxPooling2d({ poolSize: l.pool, strides: l.stride, padding: 'valid', name }).apply(x) as Sym;
    case 'resblock': {
      const cin = x.shape[3] as number;
      const a = tfl.layers
        .conv2d({ filters: l.filters, kernelSize: 3, strides: l.stride, padding: 'same', activation: 'relu', name: `${name}_a`, ...zeros })
        .apply(x) as Sym;
      const b = tfl.layers
        .conv2d({ filters: l.filters, kernelSize: 3, strides: 1, padding: 'same', activation: 'linear', name: `${name}_b`, ...zeros })
        .apply(a) as Sym;
      const shortcut = resblockNeedsProjection(l, cin)
        ? (tfl.layers
            .conv2d({ filters: l.filters, kernelSize: 1, strides: l.stride, padding: 'same', activation: 'linear', name: `${name}_proj`, ...zeros })
            .apply(x) as Sym)
        : x;
      const sum = tfl.layers.add({ name: `${name}_add` }).apply([b, shortcut]) as Sym;
      return tfl.layers.activation({ activation: 'relu', name: `${name}_relu` }).apply(sum) as Sym;
    }
    case 'imported': {
      let y = x;
      for (const layer of l.layers) y = instantiateLayer(layer).apply(y) as Sym;
      return y;
    }
  }
}

/** tfjs-layers names of the layers units [start, end) create (to keep the range's input name apart). */
function rangeLayerNames(m: ModelSpec, start: number, end: number): Set<string> {
  const names = new Set<string>();
  for (let k = start; k < end; k++) {
    const l = m.units[k]!.layer;
    if (l.kind === 'imported') l.layers.forEach((x) => names.add(x.name));
  }
  return names;
}

export interface BuiltRange {
  model: tfl.LayersModel;
  /** Layer variables in the fixed weight order of `specs`. */
  vars: tfl.LayerVariable[];
  specs: WeightSpec[];
}

/** Builds units [start, end) (start < end) as one functional tfjs-layers model; weights are zeros. */
export function buildRange(m: ModelSpec, start: number, end: number, modelName: string): BuiltRange {
  const taken = rangeLayerNames(m, start, end);
  let inputName = `u${start}_input`;
  while (taken.has(inputName)) inputName = `_${inputName}`;
  const input = tfl.input({ shape: specOutputShape(m, start), name: inputName, dtype: 'float32' });
  let y: Sym = input;
  for (let k = start; k < end; k++) y = applyUnit(m, k, y);
  const model = tfl.model({ inputs: input, outputs: y, name: modelName });
  const specs: WeightSpec[] = [];
  for (let k = start; k < end; k++) specs.push(...unitWeightSpecs(m, k));
  const vars = weightVars(model, specs, `${m.name} [${start},${end})`);
  return { model, vars, specs };
}

/** The variables of `model` holding `specs`, in that order; throws unless they are exactly the model's weights. */
export function weightVars(model: tfl.LayersModel, specs: WeightSpec[], what: string): tfl.LayerVariable[] {
  const vars = specs.map((s) => {
    const layer = model.getLayer(s.layer);
    const v = layer.weights.find((w) => paramName(layer.name, w) === s.param);
    if (!v || v.shape.join(',') !== s.shape.join(',')) {
      throw new Error(`internal: weight ${s.layer}/${s.param} [${s.shape}] does not match the built layer`);
    }
    return v;
  });
  if (vars.length !== model.weights.length) throw new Error(`internal: ${what} has untracked weights`);
  return vars;
}

/**
 * Seeded initial weights of unit k: a function of (seed, k) only, whatever the cut. Imported units: the
 * weights read from the file (copies), whatever the seed.
 */
export function initialUnitWeights(m: ModelSpec, k: number, seed: number): Float32Array[] {
  const l = m.units[k]!.layer;
  if (l.kind === 'imported') return l.initial.map((w) => w.slice());
  const rand = seededRandom(mixSeed(seed, k));
  return unitWeightSpecs(m, k).map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(size);
    if (s.init === 'zeros') return out;
    const limit = s.init === 'he' ? Math.sqrt(6 / s.fanIn) : Math.sqrt(6 / (s.fanIn + s.fanOut));
    for (let i = 0; i < size; i++) out[i] = (2 * rand() - 1) * limit;
    return out;
  });
}

/** Writes values into layer variables (shapes already validated by the caller). */
export function assignAll(vars: tfl.LayerVariable[], ws: Float32Array[]): void {
  tf.tidy(() => {
    vars.forEach((v, i) => {
      (v.read() as tf.Variable).assign(tf.tensor(ws[i]!, v.shape as number[], 'float32'));
    });
  });
}
