import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { listModels, modelInfo, rangeWeightSpecs, unitOutputShape } from './zoo.js';
import { SubModel } from './submodel.js';
import { useTestBackend } from './testing.js';

describe('model zoo', () => {
  before(async () => {
    await useTestBackend();
  });

  it('lists the four models and describes them', () => {
    assert.deepEqual(listModels(), ['mlp-mnist', 'cnn-mnist', 'cnn-cifar', 'resnet-mini']);
    const info = modelInfo('cnn-mnist');
    assert.deepEqual(info.inputShape, [28, 28, 1]);
    assert.equal(info.numClasses, 10);
    assert.equal(info.numUnits, 7);
    assert.equal(info.unitNames.length, 7);
    assert.deepEqual(modelInfo('cnn-cifar').inputShape, [32, 32, 3]);
  });

  it('rejects unknown names and bad cuts with helpful messages', () => {
    assert.throws(() => modelInfo('vgg16'), /unknown model 'vgg16' \(valid: mlp-mnist, cnn-mnist, cnn-cifar, resnet-mini\)/);
    assert.throws(() => unitOutputShape('mlp-mnist', 5), /not a cut/);
    assert.throws(() => SubModel.create('mlp-mnist', 3, 2, 1), /start 3 > end 2/);
  });

  it('unitOutputShape: input at 0, [numClasses] at L, and matches the built layers at every k', () => {
    for (const name of listModels()) {
      const { numUnits: L, inputShape, numClasses } = modelInfo(name);
      assert.deepEqual(unitOutputShape(name, 0), inputShape);
      assert.deepEqual(unitOutputShape(name, L), [numClasses]);
      for (let k = 0; k < L; k++) {
        const sub = SubModel.create(name, k, k + 1, 3);
        const x = tf.zeros([1, ...sub.inputShape()]);
        const y = sub.forward(x);
        assert.deepEqual(y.shape.slice(1), unitOutputShape(name, k + 1), `${name} unit ${k}`);
        assert.deepEqual(sub.weightShapes(), rangeWeightSpecs(name, k, k + 1).map((s) => s.shape));
        x.dispose();
        y.dispose();
        sub.dispose();
      }
    }
  });

  it('initial weights of a unit depend on (seed, unit) only, not on the cut', () => {
    const full = SubModel.create('cnn-mnist', 0, 7, 42);
    const mid = SubModel.create('cnn-mnist', 2, 6, 42);
    const other = SubModel.create('cnn-mnist', 2, 6, 43);
    const fw = full.getWeights();
    const mw = mid.getWeights();
    // units 0 and 1 (conv1, pool1) hold 2 weights; units 2..5 hold the next 4.
    assert.equal(mw.length, 4);
    mw.forEach((w, i) => assert.deepEqual(w, fw[2 + i]));
    assert.notDeepEqual(other.getWeights()[0], mw[0]);
    assert.deepEqual(mid.weightNames(), ['u2_conv2/kernel', 'u2_conv2/bias', 'u5_dense1/kernel', 'u5_dense1/bias']);
    assert.deepEqual(mid.weightUnits(), [2, 2, 5, 5]);
    [full, mid, other].forEach((s) => s.dispose());
  });
});
