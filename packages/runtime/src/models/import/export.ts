// An imported model with (trained) weights, written back as a tfjs Layers model of the form it came in:
// Sequential or functional, its layer and model names, and its final softmax put back.
import * as tfl from '@tensorflow/tfjs-layers';
import { weightVars } from '../build.js';
import { type Checkpoint, encodeCheckpoint } from '../encode.js';
import { checkWeightList } from '../submodel.js';
import { type ModelSpec, specRangeWeightSpecs } from '../zoo.js';
import { instantiateLayer } from './layers.js';
import type { ImportedLayer, JsonObject } from './spec.js';

export interface ExportOptions {
  /**
   * Put back the softmax the imported model ended with (default true): the export predicts probabilities
   * like the original. false: the export outputs the logits SubModel trains on.
   */
  softmax?: boolean;
}

/**
 * model.json + weights.bin (the same Checkpoint exportCheckpoint returns) of imported model `spec` with the
 * full-model `weights` (SubModel.getWeights() order of units [0, L)). `tf.loadLayersModel` loads it
 * (writeCheckpoint puts the two files in a directory).
 */
export function exportImportedModel(spec: ModelSpec, weights: Float32Array[], opts: ExportOptions = {}): Checkpoint {
  const src = spec.imported;
  if (!src) throw new Error(`exportImportedModel: '${spec.name}' is not an imported model (exportCheckpoint exports zoo models)`);
  const L = spec.units.length;
  const specs = specRangeWeightSpecs(spec, 0, L);
  checkWeightList(weights, specs, `exportImportedModel(${spec.name})`);
  const layers: { layer: ImportedLayer; overrides: JsonObject }[] = [];
  for (const u of spec.units) {
    if (u.layer.kind !== 'imported') throw new Error(`exportImportedModel: unit ${u.name} of ${spec.name} is not an imported unit`);
    for (const layer of u.layer.layers) layers.push({ layer, overrides: {} });
  }
  const softmax = opts.softmax ?? true;
  if (softmax && src.softmax?.kind === 'activation') {
    const name = src.softmax.layer;
    layers.find((l) => l.layer.name === name)!.overrides = { activation: 'softmax' };
  }
  if (softmax && src.softmax?.kind === 'layer') layers.push({ layer: src.softmax.layer, overrides: {} });
  let model: tfl.LayersModel;
  if (src.topology === 'Sequential') {
    const seq = tfl.sequential({ name: src.modelName });
    layers.forEach(({ layer, overrides }, i) => {
      seq.add(instantiateLayer(layer, i === 0 ? { ...overrides, batchInputShape: [null, ...spec.inputShape] } : overrides));
    });
    model = seq;
  } else {
    const input = tfl.input({ shape: spec.inputShape, name: src.inputName, dtype: 'float32' });
    let y = input;
    for (const { layer, overrides } of layers) y = instantiateLayer(layer, overrides).apply(y) as tfl.SymbolicTensor;
    model = tfl.model({ inputs: input, outputs: y, name: src.modelName });
  }
  try {
    return encodeCheckpoint(model, weightVars(model, specs, `export of ${spec.name}`), specs, weights);
  } finally {
    model.dispose();
  }
}
