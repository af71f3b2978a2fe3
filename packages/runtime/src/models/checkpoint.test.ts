import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { exportCheckpoint } from './checkpoint.js';
import { SubModel } from './submodel.js';
import { listModels, modelInfo } from './zoo.js';
import { randomBatch, useTestBackend } from './testing.js';

describe('exportCheckpoint', () => {
  before(async () => {
    await useTestBackend();
  });

  for (const name of listModels()) {
    it(`${name}: model.json + weights.bin load with tf.loadLayersModel and predict the same`, async () => {
      const { numUnits: L, inputShape } = modelInfo(name);
      const sub = SubModel.create(name, 0, L, 99);
      const weights = sub.getWeights().map((w, i) => (i % 2 ? w.map((_, j) => 0.01 * ((j % 7) - 3)) : w)); // non-zero biases
      sub.setWeights(weights);
      const { modelJson, weightsBin } = exportCheckpoint(name, weights);
      const json = JSON.parse(modelJson);
      assert.equal(json.format, 'layers-model');
      assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
      assert.equal(weightsBin.byteLength, 4 * sub.numParams());
      const data = weightsBin.buffer.slice(weightsBin.byteOffset, weightsBin.byteOffset + weightsBin.byteLength);
      const loaded = await tfl.loadLayersModel(
        tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: data }),
      );
      const b = randomBatch(inputShape, 2, 10, 4);
      const x = tf.tensor(b.x, [2, ...inputShape]);
      const want = sub.forward(x);
      const got = loaded.predict(x) as tf.Tensor;
      const d = tf.max(tf.abs(tf.sub(want, got))).dataSync()[0]!;
      assert.ok(d < 1e-5, `predictions differ by ${d}`);
      tf.dispose([x, want, got]);
      loaded.dispose();
      sub.dispose();
    });
  }

  it('validates the weight list', () => {
    assert.throws(() => exportCheckpoint('mlp-mnist', []), /expected 6 weight arrays, got 0/);
  });
});
