import assert from 'node:assert/strict';
import { assembleWeights, fedAvg, sliceWeights } from './fedavg.js';
import { rangeWeightSpecs } from '../models/zoo.js';

const f = (...v: number[]) => Float32Array.from(v);

describe('fedAvg', () => {
  it('weights copies by samples', () => {
    const out = fedAvg([[f(0, 10), f(1)], [f(4, 2), f(3)], [f(100, 100), f(100)]], [1, 3, 0]);
    assert.deepEqual(Array.from(out[0]!), [3, 4]);
    assert.deepEqual(Array.from(out[1]!), [2.5]);
    // a single copy is returned unchanged (as a new array)
    const one = [f(1.5, -2)];
    const r = fedAvg([one], [7]);
    assert.deepEqual(r, one);
    assert.notEqual(r[0], one[0]);
  });

  it('validates its inputs', () => {
    assert.throws(() => fedAvg([], []), /no copies/);
    assert.throws(() => fedAvg([[f(1)]], [1, 2]), /1 copies but 2 sample counts/);
    assert.throws(() => fedAvg([[f(1)], [f(1)]], [0, 0]), /total sample count/);
    assert.throws(() => fedAvg([[f(1)], [f(1)]], [1, -1]), /must be finite and >= 0/);
    assert.throws(() => fedAvg([[f(1)], [f(1), f(2)]], [1, 1]), /copy 1 has 2 weights/);
    assert.throws(() => fedAvg([[f(1)], [f(1, 2)]], [1, 1]), /weight 0 of copy 1 has 2 values/);
  });
});

describe('assembleWeights / sliceWeights', () => {
  const name = 'mlp-mnist';
  const mk = (a: number, b: number) => rangeWeightSpecs(name, a, b).map((s) => new Float32Array(s.shape.reduce((x, y) => x * y, 1)).fill(a));
  it('concatenates the tiers in unit order and validates each', () => {
    const full = assembleWeights(name, 1, 3, mk(0, 1), mk(1, 3), mk(3, 4));
    assert.equal(full.length, 6);
    assert.deepEqual(sliceWeights(name, full, 3, 4), full.slice(4));
    assert.deepEqual(assembleWeights(name, 4, 4, mk(0, 4), [], []), mk(0, 4));
    assert.throws(() => assembleWeights(name, 2, 1, [], [], []), /must satisfy/);
    assert.throws(() => assembleWeights(name, 1, 3, mk(0, 1), mk(1, 2), mk(3, 4)), /edge \[1,3\): expected 4 weight arrays, got 2/);
  });
});
