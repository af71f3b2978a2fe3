import * as tfl from '@tensorflow/tfjs-layers';
import { assignAll, buildRange } from './build.js';
import { checkWeightList } from './submodel.js';
import { modelSpec, rangeWeightSpecs } from './zoo.js';

/**
 * A tfjs-layers checkpoint of the full model: `modelJson` is a standard model.json (format 'layers-model',
 * modelTopology, weightsManifest with paths ['weights.bin']) and `weightsBin` the float32 little-endian
 * weight data it describes. Write both files side by side and `tf.loadLayersModel('file://.../model.json')`
 * (or http) loads it; in memory: tf.io.fromMemory({ modelTopology, weightSpecs: weightsManifest[0].weights,
 * weightData: weightsBin.buffer }). Built synchronously (same artifacts model.save would produce).
 */
export function exportCheckpoint(modelName: string, weights: Float32Array[]): { modelJson: string; weightsBin: Uint8Array } {
  const m = modelSpec(modelName);
  const specs = rangeWeightSpecs(modelName, 0, m.units.length);
  checkWeightList(weights, specs, `exportCheckpoint(${modelName})`);
  const built = buildRange(m, 0, m.units.length, modelName);
  try {
    assignAll(built.vars, weights);
    const modelTopology = built.model.toJSON(null, false);
    const total = weights.reduce((a, w) => a + w.length, 0);
    const bin = new Uint8Array(total * 4);
    const view = new DataView(bin.buffer);
    let off = 0;
    for (const w of weights) {
      for (let i = 0; i < w.length; i++, off += 4) view.setFloat32(off, w[i]!, true);
    }
    const weightSpecs = built.vars.map((v, i) => ({ name: v.originalName, shape: specs[i]!.shape.slice(), dtype: 'float32' as const }));
    const modelJson = JSON.stringify({
      format: 'layers-model',
      generatedBy: `hsfl @hsfl/runtime (TensorFlow.js tfjs-layers v${tfl.version_layers})`,
      convertedBy: null,
      modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }],
    });
    return { modelJson, weightsBin: bin };
  } finally {
    built.model.dispose();
  }
}
