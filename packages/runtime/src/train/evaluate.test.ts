import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { loadMnist } from '../data/mnist.js';
import { subset } from '../data/dataset.js';
import { SubModel } from '../models/submodel.js';
import { useTestBackend } from '../models/testing.js';
import { evaluate, trainCentralized } from './evaluate.js';

describe('evaluate / trainCentralized', function () {
  this.timeout(60_000);
  before(async () => {
    await useTestBackend();
  });

  it('mlp-mnist learns MNIST: >= 85% test accuracy after 2 epochs of 2,000 samples', () => {
    const { train, test } = loadMnist();
    const before = tf.memory().numTensors;
    const indices = Int32Array.from({ length: 2000 }, (_, i) => i);
    const init = SubModel.create('mlp-mnist', 0, 4, 1);
    const w0 = init.getWeights();
    init.dispose();
    const testSet = subset(test, Int32Array.from({ length: 500 }, (_, i) => i));
    const r0 = evaluate('mlp-mnist', w0, testSet, 128);
    const w = trainCentralized('mlp-mnist', train, { seed: 1, batchSize: 16, lr: 0.1, indices, steps: 250 });
    const r = evaluate('mlp-mnist', w, testSet);
    assert.equal(r.samples, 500);
    assert.ok(r0.accuracy < 0.3 && r0.loss > 2, `untrained: ${JSON.stringify(r0)}`);
    assert.ok(r.accuracy >= 0.85 && r.loss < 0.6, `trained: ${JSON.stringify(r)}`);
    assert.equal(tf.memory().numTensors, before);
  });

  it('rejects data of the wrong shape', () => {
    const { test } = loadMnist();
    const w = SubModel.create('cnn-cifar', 0, 9, 1);
    assert.throws(() => evaluate('cnn-cifar', w.getWeights(), test), /data samples are \[28,28,1\], cnn-cifar takes \[32,32,3\]/);
    w.dispose();
  });
});
