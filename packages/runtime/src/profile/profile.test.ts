import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SubModel } from '../models/submodel.js';
import { listModels, modelInfo } from '../models/zoo.js';
import { useTestBackend } from '../models/testing.js';
import { modelProfile, profileUnits } from './index.js';

describe('profiling', function () {
  this.timeout(60_000);
  before(async () => {
    await useTestBackend();
  });

  it('modelProfile: parameter bytes and activation sizes agree with the built models', () => {
    for (const name of listModels()) {
      const info = modelInfo(name);
      const p = modelProfile(name);
      assert.equal(p.units.length, info.numUnits);
      assert.equal(p.inputBytesPerSample, 4 * info.inputShape.reduce((a, b) => a * b, 1));
      const full = SubModel.create(name, 0, info.numUnits, 1);
      assert.equal(p.units.reduce((a, u) => a + u.paramBytes, 0), 4 * full.numParams());
      full.dispose();
      assert.equal(p.units.at(-1)!.outputBytesPerSample, 40);
      assert.ok(p.units.every((u) => u.flopsPerSample >= 0));
      assert.equal(p.name, name);
      assert.equal(p.labelBytesPerSample, 4);
      assert.equal(p.memPerSampleBytes.length, info.numUnits);
      p.units.forEach((u, k) => assert.ok(p.memPerSampleBytes[k]! >= 2 * u.outputBytesPerSample));
    }
    const cnn = modelProfile('cnn-mnist').units;
    assert.equal(cnn[0]!.flopsPerSample, 26 * 26 * 16 * (2 * 9 + 2));
    assert.equal(cnn[0]!.outputBytesPerSample, 4 * 26 * 26 * 16);
    assert.equal(cnn[5]!.paramBytes, 4 * (800 * 64 + 64));
  });

  it('profileUnits: positive per-unit times and peaks on the current backend, no leaks', async () => {
    const before = tf.memory().numTensors;
    const r = await profileUnits('mlp-mnist', 8, 3);
    for (const arr of [r.fwdMsPerSample, r.bwdMsPerSample, r.peakBytes]) {
      assert.equal(arr.length, 4);
      assert.ok(arr.every((v) => Number.isFinite(v) && v >= 0));
    }
    assert.ok(r.peakBytes[1]! >= 4 * 8 * 784, 'a dense1 step holds at least its input');
    assert.ok(r.bwdMsPerSample[1]! > 0);
    assert.equal(tf.memory().numTensors, before);
  });
});
