import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { exportCheckpoint } from '../checkpoint.js';
import { unregisterModel } from '../registry.js';
import { SubModel } from '../submodel.js';
import { maxAbsDiff, useTestBackend } from '../testing.js';
import { modelInfo, modelSpec } from '../zoo.js';
import { exportImportedModel } from './export.js';
import { fileLoadHandler, writeCheckpoint } from './file-io.js';
import { importLayersModel, importModel } from './import.js';
import { functionalChain, removeDir, saveModel, seedWeights, sequentialCnn, tempDir, writeKerasStyleModel } from './testing.js';

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('import: exporting a trained imported model', function () {
  this.timeout(120_000);
  let root: string;
  const names: string[] = [];

  before(async () => {
    await useTestBackend();
    root = await tempDir();
    const seq = sequentialCnn();
    seedWeights(seq, 11);
    const fn = functionalChain();
    seedWeights(fn, 12);
    await importModel('exp-seq', await saveModel(seq, path.join(root, 'seq')));
    await importModel('exp-fn', await saveModel(fn, path.join(root, 'fn')));
    const { dir } = await writeKerasStyleModel(path.join(root, 'keras'), 13);
    await importModel('exp-keras', dir);
    names.push('exp-seq', 'exp-fn', 'exp-keras');
    seq.dispose();
    fn.dispose();
  });

  after(async () => {
    names.forEach((n) => unregisterModel(n));
    await removeDir(root);
  });

  for (const [name, topology] of [['exp-seq', 'Sequential'], ['exp-fn', 'Model'], ['exp-keras', 'Sequential']] as const) {
    it(`${name}: import -> set weights -> export -> tf.loadLayersModel predicts like SubModel (softmax put back)`, async () => {
      const { numUnits: L, inputShape } = modelInfo(name);
      const sub = SubModel.create(name, 0, L, 0);
      // "trained" weights: different from the imported ones (BN variances stay positive)
      const weights = sub.getWeights().map((w, i) => w.map((v, j) => v * 0.9 + 0.01 * ((i + j) % 5) + (sub.weightNames()[i]!.endsWith('variance') ? 0.1 : 0)));
      sub.setWeights(weights);
      const ck = exportCheckpoint(name, weights);
      const dir = path.join(root, `out-${name}`);
      const files = await writeCheckpoint(dir, ck);
      assert.deepEqual((await fs.readdir(dir)).sort(), ['model.json', 'weights.bin']);
      assert.equal(files.modelJson, path.join(dir, 'model.json'));
      const json = JSON.parse(ck.modelJson);
      assert.equal(json.format, 'layers-model');
      assert.equal(json.modelTopology.class_name, topology);
      assert.equal(ck.weightsBin.byteLength, 4 * sub.numParams());
      const loaded = await tfl.loadLayersModel(fileLoadHandler(dir));
      const x = tf.randomUniform([5, ...inputShape], 0, 1, 'float32', 3);
      const logits = sub.forward(x);
      const probs = tf.softmax(logits);
      const got = loaded.predict(x) as tf.Tensor;
      const d = maxDiff(got, probs);
      assert.ok(d < 1e-5, `predictions differ by ${d}`);
      // without the softmax: the logits themselves
      const raw = exportImportedModel(modelSpec(name), weights, { softmax: false });
      const rawJson = JSON.parse(raw.modelJson);
      const rawModel = await tfl.loadLayersModel(
        tf.io.fromMemory({ modelTopology: rawJson.modelTopology, weightSpecs: rawJson.weightsManifest[0].weights, weightData: raw.weightsBin.slice().buffer }),
      );
      const gotRaw = rawModel.predict(x) as tf.Tensor;
      assert.ok(maxDiff(gotRaw, logits) < 1e-5);
      tf.dispose([x, logits, probs, got, gotRaw]);
      loaded.dispose();
      rawModel.dispose();
      // the export imports again as the same model, starting from the trained weights
      const again = await importLayersModel(dir);
      assert.deepEqual(again.units.map((u) => u.name), modelInfo(name).unitNames);
      assert.deepEqual(again.imported!.softmax, modelSpec(name).imported!.softmax);
      const init = again.units.flatMap((u) => (u.layer.kind === 'imported' ? u.layer.initial : []));
      assert.equal(maxAbsDiff(init, weights), 0);
      sub.dispose();
    });
  }

  it('the initial weights exported import again as the very same model (same fingerprint)', async () => {
    for (const name of names) {
      const sub = SubModel.create(name, 0, modelInfo(name).numUnits, 0);
      const dir = path.join(root, `again-${name}`);
      await writeCheckpoint(dir, exportCheckpoint(name, sub.getWeights()));
      sub.dispose();
      const again = await importLayersModel(dir);
      assert.equal(again.imported!.sha256, modelSpec(name).imported!.sha256, name);
    }
  });

  it('keeps the layer and model names', async () => {
    const sub = SubModel.create('exp-fn', 0, 3, 0);
    const ck = exportCheckpoint('exp-fn', sub.getWeights());
    sub.dispose();
    const topo = JSON.parse(ck.modelJson).modelTopology;
    assert.equal(topo.config.name, 'func_chain');
    assert.deepEqual(topo.config.layers.map((l: { name: string }) => l.name), ['features', 'h1', 'h2', 'h2_act', 'logits', 'probs']);
  });

  it('validates the weight list', () => {
    assert.throws(() => exportCheckpoint('exp-seq', []), /exportImportedModel\(exp-seq\): expected 12 weight arrays, got 0/);
    assert.throws(() => exportImportedModel(modelSpec('cnn-mnist'), []), /'cnn-mnist' is not an imported model/);
  });
});
