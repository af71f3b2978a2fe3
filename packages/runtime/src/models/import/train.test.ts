// An imported model trains like a zoo model: split at two cuts into device/edge/cloud copies, the chained
// forward and the split backward equal the unsplit model's, and the loss falls on MNIST.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BatchIterator } from '../../data/batch.js';
import { subset } from '../../data/dataset.js';
import { loadMnist } from '../../data/mnist.js';
import { evaluate } from '../../train/evaluate.js';
import { exportCheckpoint } from '../checkpoint.js';
import { unregisterModel } from '../registry.js';
import { SubModel } from '../submodel.js';
import { maxAbsDiff, randomBatch, useTestBackend } from '../testing.js';
import { modelInfo } from '../zoo.js';
import { importModel } from './import.js';
import { mnistCnn, removeDir, saveModel, seedWeights, sequentialCnn, tempDir } from './testing.js';

/** One split training step over device [0,c1), edge [c1,c2), cloud [c2,L); returns the summed loss. */
function splitStep(parts: SubModel[], x: tf.Tensor, y: tf.Tensor1D, lr: number): number {
  const [device, edge, cloud] = parts as [SubModel, SubModel, SubModel];
  const n = x.shape[0]!;
  const a1 = device.forward(x);
  const a2 = edge.forward(a1);
  const top = cloud.trainTop(a2, y, lr, !edge.isEmpty || !device.isEmpty);
  const g1 = top.dxSum ? edge.backward(a1, top.dxSum, n, lr, !device.isEmpty) : null;
  if (g1) device.backward(x, g1, n, lr, false)?.dispose();
  tf.dispose([a1, a2, ...(top.dxSum ? [top.dxSum] : []), ...(g1 ? [g1] : [])]);
  return top.lossSum;
}

describe('import: training an imported model split across three tiers', function () {
  this.timeout(300_000);
  let root: string;
  const name = 'user-mnist-cnn';

  before(async () => {
    await useTestBackend();
    root = await tempDir();
    const m = mnistCnn();
    seedWeights(m, 21, 'he');
    await importModel(name, await saveModel(m, path.join(root, 'mnist-cnn')));
    m.dispose();
  });

  after(async () => {
    unregisterModel(name);
    unregisterModel('frozen');
    await removeDir(root);
  });

  it('has the units a user would expect', () => {
    assert.deepEqual(modelInfo(name).unitNames, ['c1', 'p1', 'f', 'd1', 'out']);
  });

  it('chained forward at every (c1, c2) equals the full forward', () => {
    const { numUnits: L } = modelInfo(name);
    const b = randomBatch([28, 28, 1], 3, 10, 1);
    const x = tf.tensor(b.x, [3, 28, 28, 1]);
    const full = SubModel.create(name, 0, L, 0);
    const ref = full.forward(x);
    for (let c1 = 0; c1 <= L; c1++) {
      for (let c2 = c1; c2 <= L; c2++) {
        const parts = [SubModel.create(name, 0, c1, 0), SubModel.create(name, c1, c2, 0), SubModel.create(name, c2, L, 0)];
        let h = x.clone();
        for (const p of parts) {
          const next = p.forward(h);
          h.dispose();
          h = next;
        }
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(h, ref))).dataSync()[0]!);
        assert.ok(d < 1e-5, `(${c1},${c2}) differs by ${d}`);
        h.dispose();
        parts.forEach((p) => p.dispose());
      }
    }
    tf.dispose([x, ref]);
    full.dispose();
  });

  it('split SGD steps at every (c1, c2) give the unsplit model\'s weights and losses', () => {
    const { numUnits: L } = modelInfo(name);
    const batches = [0, 1, 2].map((s) => randomBatch([28, 28, 1], 6, 10, 40 + s));
    const lr = 0.1;
    const full = SubModel.create(name, 0, L, 0);
    const refLoss: number[] = [];
    for (const b of batches) {
      const x = tf.tensor(b.x, [b.n, 28, 28, 1]);
      const y = tf.tensor1d(b.y, 'int32');
      refLoss.push(full.trainTop(x, y, lr, false).lossSum);
      tf.dispose([x, y]);
    }
    const ref = full.getWeights();
    full.dispose();
    for (const [c1, c2] of [[1, 3], [2, 4], [0, 2], [3, 5], [0, 0], [5, 5]] as const) {
      const parts = [SubModel.create(name, 0, c1, 0), SubModel.create(name, c1, c2, 0), SubModel.create(name, c2, L, 0)];
      batches.forEach((b, i) => {
        const x = tf.tensor(b.x, [b.n, 28, 28, 1]);
        const y = tf.tensor1d(b.y, 'int32');
        const loss = splitStep(parts, x, y, lr);
        assert.ok(Math.abs(loss - refLoss[i]!) < 1e-3, `(${c1},${c2}) step ${i}: loss ${loss} vs ${refLoss[i]}`);
        tf.dispose([x, y]);
      });
      const got = parts.flatMap((p) => p.getWeights());
      const d = maxAbsDiff(got, ref);
      assert.ok(d < 1e-5, `(${c1},${c2}) weights differ by ${d}`);
      parts.forEach((p) => p.dispose());
    }
  });

  it('split at (2, 4) on MNIST batches, the loss falls', () => {
    const { numUnits: L } = modelInfo(name);
    const { train, test } = loadMnist();
    const evalSet = subset(test, Int32Array.from({ length: 500 }, (_, i) => i));
    const parts = [SubModel.create(name, 0, 2, 0), SubModel.create(name, 2, 4, 0), SubModel.create(name, 4, L, 0)];
    const before = evaluate(name, parts.flatMap((p) => p.getWeights()), evalSet);
    const it = new BatchIterator(train, Int32Array.from({ length: train.n }, (_, i) => i), 32, 5);
    const losses: number[] = [];
    for (let s = 0; s < 60; s++) {
      const b = it.next();
      const x = tf.tensor(b.x, [b.n, 28, 28, 1]);
      const y = tf.tensor1d(b.y, 'int32');
      losses.push(splitStep(parts, x, y, 0.1) / b.n);
      tf.dispose([x, y]);
    }
    const after = evaluate(name, parts.flatMap((p) => p.getWeights()), evalSet);
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    assert.ok(mean(losses.slice(-10)) < mean(losses.slice(0, 10)), `training loss ${mean(losses.slice(0, 10))} -> ${mean(losses.slice(-10))}`);
    assert.ok(after.loss < before.loss - 0.5, `held-out loss ${before.loss} -> ${after.loss}`);
    assert.ok(after.accuracy > before.accuracy, `accuracy ${before.accuracy} -> ${after.accuracy}`);
    parts.forEach((p) => p.dispose());
  });

  it('frozen layers and BatchNormalization statistics are not stepped', async () => {
    const m = sequentialCnn();
    seedWeights(m, 30);
    m.getLayer('fc1').trainable = false;
    m.getLayer('probs').trainable = false;
    await importModel('frozen', await saveModel(m, path.join(root, 'frozen')));
    m.dispose();
    const { numUnits: L, inputShape } = modelInfo('frozen');
    const sub = SubModel.create('frozen', 0, L, 0);
    sub.trackGradNorms = true;
    const w0 = sub.getWeights();
    const b = randomBatch(inputShape, 8, 4, 3);
    const x = tf.tensor(b.x, [8, ...inputShape]);
    const y = tf.tensor1d(b.y, 'int32');
    sub.trainTop(x, y, 0.5, false);
    const w1 = sub.getWeights();
    const changed = sub.weightNames().filter((_, i) => maxAbsDiff([w0[i]!], [w1[i]!]) > 0);
    assert.deepEqual(changed, ['conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias', 'bn2/gamma', 'bn2/beta']);
    assert.equal(sub.lastUnitGradSq![4], 0, 'the frozen fc1 unit has no gradient');
    assert.ok(sub.lastUnitGradSq![2]! > 0);
    // a top whose weights are all frozen still computes its loss, and its input gradient when asked
    const top = SubModel.create('frozen', 4, L, 0);
    const h = tf.randomNormal([8, 96]);
    const m0 = tf.memory().numTensors;
    const r = top.trainTop(h, y, 0.5, false);
    const r2 = top.trainTop(h, y, 0.5, true);
    assert.ok(Number.isFinite(r.lossSum) && r.lossSum > 0 && r.dxSum === null);
    assert.ok(Math.abs(r2.lossSum - r.lossSum) < 1e-4);
    assert.deepEqual(r2.dxSum!.shape, [8, 96]);
    r2.dxSum!.dispose();
    assert.equal(tf.memory().numTensors, m0, 'no leaked tensors');
    // and they export frozen
    const layers = JSON.parse(exportCheckpoint('frozen', sub.getWeights()).modelJson).modelTopology.config.layers;
    const trainable = Object.fromEntries(layers.map((l: { config: { name: string; trainable: boolean } }) => [l.config.name, l.config.trainable]));
    assert.equal(trainable['fc1'], false);
    assert.equal(trainable['probs'], false);
    assert.equal(trainable['conv1'], true);
    tf.dispose([x, y, h]);
    sub.dispose();
    top.dispose();
  });
});
