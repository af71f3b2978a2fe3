// A tfjs Layers model (file, directory, URL, IOHandler, or a model in memory) as a ModelSpec: its layers cut
// into units, its weights as the initial weights; and registering it under a name.
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type ModelInfo, type ModelSpec, checkSpec, registerModel } from '../zoo.js';
import { linearChain } from './chain.js';
import { layerFlops } from './cost.js';
import { type LoadLimits, loadModelFiles } from './file-io.js';
import { type HttpLoadOptions, isHttpUrl, loadModelHttp } from './http-io.js';
import { paramName, plainConfig } from './layers.js';
import type { ImportedLayer, ImportedLayerSpec, ImportSource } from './spec.js';
import { groupUnits, logitsChain } from './units.js';

export interface ImportOptions extends LoadLimits, HttpLoadOptions {
  /** Name of the spec (default: the model's own name). registerModel/importModel use their own name. */
  name?: string;
}

/** Where a model comes from: a path to model.json or its directory, a file:// or http(s) URL, or an IOHandler. */
export type ModelSource = string | tf.io.IOHandler;

/** Reads a model's artifacts (model.json + weights) from a path, URL or IOHandler. */
export async function loadModelArtifacts(source: ModelSource, opts: ImportOptions = {}): Promise<tf.io.ModelArtifacts> {
  if (typeof source !== 'string') {
    if (!source.load) throw new Error('the IOHandler given has no load()');
    return source.load();
  }
  return isHttpUrl(source) ? loadModelHttp(source, opts) : loadModelFiles(source, opts);
}

/**
 * Loads a tfjs Layers model (model.json + weight shards, as tf model.save or the tensorflowjs Keras converter
 * write them) and makes it a ModelSpec: units as in import/units.ts, input shape from its input layer, class
 * count from its output, initial weights from the file. Refuses (readably) branching graphs, outputs that
 * are not class scores, and models without weights.
 */
export async function importLayersModel(source: ModelSource, opts: ImportOptions = {}): Promise<ModelSpec> {
  const where = typeof source === 'string' ? source : 'the given IOHandler';
  const a = await loadModelArtifacts(source, opts);
  if (!a.modelTopology || a.modelTopology instanceof ArrayBuffer) throw new Error(`${where}: no JSON model topology`);
  // only what a Layers model needs: a training config (optimizer, loss) is not ours to restore
  const artifacts: tf.io.ModelArtifacts = { modelTopology: a.modelTopology, format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy };
  if (a.weightSpecs?.length) Object.assign(artifacts, { weightSpecs: a.weightSpecs, weightData: a.weightData });
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel({ load: async () => artifacts }, { strict: true });
  } catch (e) {
    throw new Error(`${where}: tfjs-layers cannot load it: ${(e as Error).message}`);
  }
  try {
    if (model.weights.length && !a.weightSpecs?.length) {
      throw new Error(`${where}: model.json lists no weights (weightsManifest); an imported model starts from the weights in its file`);
    }
    return modelSpecFromLayersModel(model, {
      name: opts.name,
      from: where,
      generatedBy: a.generatedBy ?? null,
      convertedBy: a.convertedBy ?? null,
    });
  } finally {
    model.dispose();
  }
}

/** importLayersModel + registerModel(name, ...): afterwards `name` works wherever a zoo model name does. */
export async function importModel(name: string, source: ModelSource, opts: ImportOptions & { replace?: boolean } = {}): Promise<ModelInfo> {
  const spec = await importLayersModel(source, { ...opts, name });
  return registerModel(name, spec, { replace: opts.replace });
}

const perSample = (shapes: unknown, what: string): number[] => {
  // a Node lists one shape per input tensor: [[null, 6]] for one
  const shape: unknown = Array.isArray(shapes) && Array.isArray(shapes[0]) && shapes.length === 1 ? shapes[0] : shapes;
  if (!Array.isArray(shape) || Array.isArray(shape[0])) throw new Error(`${what} has several inputs or outputs`);
  const s = (shape as (number | null)[]).slice(1);
  if (s.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 1)) {
    throw new Error(`${what} has shape [${shape.map((d) => (d === null ? 'None' : d)).join(',')}]; every dimension but the batch must be fixed`);
  }
  return s as number[];
};

/**
 * The ModelSpec of a tfjs LayersModel already in memory (importLayersModel's core): its current weights
 * become the initial weights. `meta.name` defaults to the model's name.
 */
export function modelSpecFromLayersModel(
  model: tfl.LayersModel,
  meta: { name?: string; from?: string; generatedBy?: string | null; convertedBy?: string | null } = {},
): ModelSpec {
  const where = meta.from ?? `model '${model.name}'`;
  const chain = linearChain(model, where);
  const inputShape = perSample(model.inputs[0]!.shape, `${where}: the input`);
  if (model.inputs[0]!.dtype !== 'float32') throw new Error(`${where}: the input is ${model.inputs[0]!.dtype}; only float32 inputs are supported`);
  const values = new Map<string, Float32Array[]>();
  const described: ImportedLayer[] = chain.layers.map((layer) => {
    const what = `${where}: layer '${layer.name}' (${layer.getClassName()})`;
    const config = plainConfig(layer);
    const inShape = perSample(layer.inboundNodes[0]!.inputShapes, what);
    const outShape = perSample(layer.outputShape, what);
    const trainable = new Set(layer.trainableWeights);
    const weights = layer.weights.map((v) => {
      if (v.dtype !== 'float32') throw new Error(`${what}: weight ${v.originalName} is ${v.dtype}; only float32 weights can be trained`);
      return { param: paramName(layer.name, v), shape: v.shape.map((d) => d as number), trainable: trainable.has(v) };
    });
    values.set(layer.name, layer.weights.map((v) => new Float32Array(v.read().dataSync() as Float32Array)));
    const flops = layerFlops(layer.getClassName(), config, inShape, outShape, weights.map((w) => w.shape));
    return { className: layer.getClassName(), name: layer.name, config, inputShape: inShape, outputShape: outShape, weights, flops };
  });
  const { layers, softmax } = logitsChain(described, where);
  const units = groupUnits(layers).map((ls) => ({
    name: ls[0]!.name,
    layer: { kind: 'imported', layers: ls, initial: ls.flatMap((l) => values.get(l.name)!) } satisfies ImportedLayerSpec,
  }));
  const numClasses = layers.at(-1)!.outputShape[0]!;
  const cls = model.getClassName();
  const source: ImportSource = {
    from: where,
    topology: cls === 'Sequential' ? 'Sequential' : 'Model',
    modelName: model.name,
    inputName: chain.input.name,
    softmax,
    generatedBy: meta.generatedBy ?? null,
    convertedBy: meta.convertedBy ?? null,
    sha256: '',
  };
  const spec: ModelSpec = {
    name: meta.name ?? model.name,
    description: `imported from ${where}: ${chain.layers.length} layers in ${units.length} units, ${inputShape.join('x')} -> ${numClasses} classes`,
    inputShape,
    numClasses,
    units,
    imported: source,
  };
  source.sha256 = fingerprint(spec);
  checkSpec(spec);
  return spec;
}

/** sha256 of what defines the imported model: its units' layers, input shape, softmax, and initial weights. */
export function fingerprint(spec: ModelSpec): string {
  const h = createHash('sha256');
  const imported = spec.imported;
  h.update(JSON.stringify({ inputShape: spec.inputShape, softmax: imported?.softmax ?? null, units: spec.units.map((u) => u.layer.kind === 'imported' ? u.layer.layers : u.layer) }));
  for (const u of spec.units) {
    if (u.layer.kind !== 'imported') continue;
    for (const w of u.layer.initial) h.update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  return h.digest('hex');
}
