import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SubModel } from './submodel.js';
import { modelInfo } from './zoo.js';
import { maxAbsDiff, randomBatch, useTestBackend } from './testing.js';

describe('SubModel', () => {
  before(async () => {
    await useTestBackend();
  });

  it('cnn-mnist: chaining the three sub-models equals the full forward at every (c1, c2)', () => {
    const name = 'cnn-mnist';
    const L = modelInfo(name).numUnits;
    const b = randomBatch([28, 28, 1], 3, 10, 5);
    const x = tf.tensor(b.x, [3, 28, 28, 1]);
    const full = SubModel.create(name, 0, L, 7);
    const ref = full.forward(x);
    const refV = ref.dataSync();
    for (let c1 = 0; c1 <= L; c1++) {
      for (let c2 = c1; c2 <= L; c2++) {
        const parts = [SubModel.create(name, 0, c1, 7), SubModel.create(name, c1, c2, 7), SubModel.create(name, c2, L, 7)];
        let h = x.clone();
        for (const p of parts) {
          const next = p.forward(h);
          h.dispose();
          h = next;
        }
        const got = h.dataSync();
        let d = 0;
        for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i]! - refV[i]!));
        assert.ok(d < 1e-5, `(${c1},${c2}) differs by ${d}`);
        h.dispose();
        parts.forEach((p) => p.dispose());
      }
    }
    ref.dispose();
    x.dispose();
    full.dispose();
  });

  it('empty sub-models are identities', () => {
    const e = SubModel.create('mlp-mnist', 2, 2, 1);
    assert.ok(e.isEmpty);
    assert.deepEqual(e.getWeights(), []);
    assert.equal(e.numParams(), 0);
    const x = tf.ones([2, 128]);
    const y = e.forward(x);
    assert.deepEqual(Array.from(y.dataSync()), Array.from(x.dataSync()));
    const g = e.backward(x, x, 2, 0.1, true)!;
    assert.deepEqual(g.shape, [2, 128]);
    assert.equal(e.backward(x, x, 2, 0.1, false), null);
    [x, y, g].forEach((t) => t.dispose());
    e.dispose();
  });

  it('setWeights: count or length mismatch throws and changes nothing; round-trips otherwise', () => {
    const s = SubModel.create('mlp-mnist', 1, 4, 1);
    const before = s.getWeights();
    const bad1 = before.slice(0, -1);
    const bad2 = before.map((w, i) => (i === 3 ? new Float32Array(w.length + 1) : new Float32Array(w.length).fill(9)));
    assert.throws(() => s.setWeights(bad1), /expected 6 weight arrays, got 5/);
    assert.throws(() => s.setWeights(bad2), /weight 3 .* has 65 values, expected 64/);
    assert.equal(maxAbsDiff(s.getWeights(), before), 0);
    const next = before.map((w) => w.map((v) => v + 1));
    s.setWeights(next);
    assert.equal(maxAbsDiff(s.getWeights(), next), 0);
    // getWeights returns copies
    s.getWeights()[0]![0] = 1234;
    assert.notEqual(s.getWeights()[0]![0], 1234);
    s.dispose();
    assert.throws(() => s.getWeights(), /disposed/);
  });

  it('rejects batches of the wrong shape', () => {
    const s = SubModel.create('mlp-mnist', 1, 3, 1);
    const x = tf.zeros([2, 100]);
    assert.throws(() => s.forward(x), /x must be \[n,784\], got \[2,100\]/);
    const x2 = tf.zeros([2, 784]);
    const dy = tf.zeros([3, 64]);
    assert.throws(() => s.backward(x2, dy, 2, 0.1, false), /dySum must be \[2,64\]/);
    assert.throws(() => s.trainTop(x2, tf.tensor1d([0, 1], 'int32'), 0.1, false), /needs the top/);
    [x, x2, dy].forEach((t) => t.dispose());
    s.dispose();
  });

  it('trainTop: summed loss, correct count, and the SUM-loss input gradient match a hand computation', () => {
    const name = 'mlp-mnist';
    const s = SubModel.create(name, 3, 4, 11); // the logits layer only
    const ref = SubModel.create(name, 3, 4, 11);
    const n = 5;
    const b = randomBatch([64], n, 10, 9);
    const x = tf.tensor(b.x, [n, 64]);
    const y = tf.tensor1d(b.y, 'int32');
    const [W, bias] = ref.getWeights();
    // hand: logits = xW + b, p = softmax, loss = -sum log p[y], dx = (p - onehot) W^T
    const logits = tf.add(tf.matMul(x, tf.tensor(W!, [64, 10])), tf.tensor(bias!, [10]));
    const p = tf.softmax(logits);
    const lossHand = -tf.sum(tf.mul(tf.oneHot(y, 10), tf.log(p))).dataSync()[0]!;
    const correctHand = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')).dataSync()[0]!;
    const dxHand = tf.matMul(tf.sub(p, tf.oneHot(y, 10)), tf.tensor(W!, [64, 10]), false, true);
    const r = s.trainTop(x, y, 0.1, true);
    assert.ok(Math.abs(r.lossSum - lossHand) < 1e-4, `${r.lossSum} vs ${lossHand}`);
    assert.equal(r.correct, correctHand);
    const d = tf.max(tf.abs(tf.sub(r.dxSum!, dxHand))).dataSync()[0]!;
    assert.ok(d < 1e-5, `dx differs by ${d}`);
    // the step is on the MEAN loss: W' = W - lr/n * x^T (p - onehot)
    const gW = tf.matMul(x, tf.sub(p, tf.oneHot(y, 10)), true, false);
    const W2 = tf.sub(tf.tensor(W!, [64, 10]), tf.mul(gW, 0.1 / n)).dataSync() as Float32Array;
    assert.ok(maxAbsDiff([s.getWeights()[0]!], [W2]) < 1e-6);
    tf.dispose([x, y, logits, p, dxHand, gW, r.dxSum!]);
    s.dispose();
    ref.dispose();
  });

  it('does not leak tensors over repeated training steps', () => {
    const sBottom = SubModel.create('cnn-mnist', 0, 2, 1);
    const sMid = SubModel.create('cnn-mnist', 2, 5, 1);
    const sTop = SubModel.create('cnn-mnist', 5, 7, 1);
    const b = randomBatch([28, 28, 1], 2, 10, 1);
    const x = tf.tensor(b.x, [2, 28, 28, 1]);
    const y = tf.tensor1d(b.y, 'int32');
    sMid.trackGradNorms = true;
    const step = () => {
      const a1 = sBottom.forward(x);
      const a2 = sMid.forward(a1);
      const top = sTop.trainTop(a2, y, 0.05, true);
      const g1 = sMid.backward(a1, top.dxSum!, 2, 0.05, true)!;
      sBottom.backward(x, g1, 2, 0.05, false);
      tf.dispose([a1, a2, top.dxSum!, g1]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, before);
    assert.equal(sMid.lastUnitGradSq!.length, 3);
    assert.ok(sMid.lastUnitGradSq![0]! > 0 && sMid.lastUnitGradSq![1] === 0);
    // empty top (c2 = L) and weightless ranges, with and without input gradients
    const emptyTop = SubModel.create('cnn-mnist', 7, 7, 1);
    const pool = SubModel.create('cnn-mnist', 3, 5, 1);
    const logits = tf.randomNormal([2, 10]);
    const h = tf.randomNormal([2, 11, 11, 32]);
    const dh = tf.randomNormal([2, 800]);
    const m0 = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      for (const want of [true, false]) {
        const r = emptyTop.trainTop(logits, y, 0.1, want);
        assert.ok(Number.isFinite(r.lossSum) && (r.dxSum === null) === !want);
        r.dxSum?.dispose();
        pool.backward(h, dh, 2, 0.1, want)?.dispose();
      }
    }
    assert.equal(tf.memory().numTensors, m0);
    tf.dispose([logits, h, dh]);
    emptyTop.dispose();
    pool.dispose();
    const n0 = tf.memory().numTensors;
    [sBottom, sMid, sTop].forEach((s) => s.dispose());
    assert.ok(tf.memory().numTensors < n0);
    tf.dispose([x, y]);
  });
});
