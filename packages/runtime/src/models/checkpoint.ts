import { buildRange } from './build.js';
import { type Checkpoint, encodeCheckpoint } from './encode.js';
import { exportImportedModel } from './import/export.js';
import { checkWeightList } from './submodel.js';
import { modelSpec, rangeWeightSpecs } from './zoo.js';

export type { Checkpoint } from './encode.js';

/**
 * A tfjs-layers checkpoint of the full model: `modelJson` is a standard model.json (format 'layers-model',
 * modelTopology, weightsManifest with paths ['weights.bin']) and `weightsBin` the float32 little-endian
 * weight data it describes. Write both files side by side and `tf.loadLayersModel('file://.../model.json')`
 * (or http) loads it; in memory: tf.io.fromMemory({ modelTopology, weightSpecs: weightsManifest[0].weights,
 * weightData: weightsBin.buffer }). Built synchronously (same artifacts model.save would produce).
 * A registered (imported) model exports in its own form: see exportImportedModel.
 */
export function exportCheckpoint(modelName: string, weights: Float32Array[]): Checkpoint {
  const m = modelSpec(modelName);
  if (m.imported) return exportImportedModel(m, weights);
  const specs = rangeWeightSpecs(modelName, 0, m.units.length);
  checkWeightList(weights, specs, `exportCheckpoint(${modelName})`);
  const built = buildRange(m, 0, m.units.length, modelName);
  try {
    return encodeCheckpoint(built.model, built.vars, specs, weights);
  } finally {
    built.model.dispose();
  }
}
