// A built tfjs-layers model and its weights as the two files of a tfjs Layers model (model.json + weights.bin).
import * as tfl from '@tensorflow/tfjs-layers';
import { assignAll } from './build.js';
import type { WeightSpec } from './zoo.js';

/** A tfjs Layers model as two files: model.json and the weights.bin it names. */
export interface Checkpoint {
  modelJson: string;
  weightsBin: Uint8Array;
}

/**
 * model.json + weights.bin of a built model after assigning `weights` (validated by the caller) to `vars`
 * (its variables, in the order of `specs`).
 */
export function encodeCheckpoint(model: tfl.LayersModel, vars: tfl.LayerVariable[], specs: WeightSpec[], weights: Float32Array[]): Checkpoint {
  assignAll(vars, weights);
  const modelTopology = model.toJSON(null, false);
  const total = weights.reduce((a, w) => a + w.length, 0);
  const bin = new Uint8Array(total * 4);
  const view = new DataView(bin.buffer);
  let off = 0;
  for (const w of weights) {
    for (let i = 0; i < w.length; i++, off += 4) view.setFloat32(off, w[i]!, true);
  }
  const weightSpecs = vars.map((v, i) => ({ name: v.originalName, shape: specs[i]!.shape.slice(), dtype: 'float32' as const }));
  const modelJson = JSON.stringify({
    format: 'layers-model',
    generatedBy: `hsfl @hsfl/runtime (TensorFlow.js tfjs-layers v${tfl.version_layers})`,
    convertedBy: null,
    modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }],
  });
  return { modelJson, weightsBin: bin };
}
