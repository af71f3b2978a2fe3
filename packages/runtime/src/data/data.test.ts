import assert from 'node:assert/strict';
import { BatchIterator } from './batch.js';
import { loadMnist } from './mnist.js';
import { partition } from './partition.js';
import { mixSeed, mulberry32, seededRandom } from './random.js';
import { syntheticDataset } from './synthetic.js';
import { subset, validateDataset } from './dataset.js';

function checkPartition(parts: Int32Array[], n: number): void {
  const seen = new Uint8Array(n);
  for (const p of parts) for (const i of p) {
    assert.ok(i >= 0 && i < n);
    assert.equal(seen[i], 0, `index ${i} in two shards`);
    seen[i] = 1;
  }
  assert.ok(seen.every((s) => s === 1), 'some index in no shard');
}

describe('mulberry32', () => {
  // Known answers of mulberry32; @hsfl/planner (testing/random.ts) and
  // @hsfl/protocol (test-helpers.ts) hold their own copies, pinned to the same values.
  it('gives the known mulberry32 sequence', () => {
    const r = mulberry32(1);
    assert.deepEqual([r(), r(), r()], [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    const q = mulberry32(0xdeadbeef);
    assert.deepEqual([q(), q(), q()], [0.9413696140982211, 0.26719574979506433, 0.772033357527107]);
  });

  it('is what seededRandom runs over the mixed seed', () => {
    for (const seed of [0, 5, -7, 2 ** 31, 0.5]) {
      const a = seededRandom(seed);
      const b = mulberry32(mixSeed(seed));
      assert.deepEqual(Array.from({ length: 20 }, () => a()), Array.from({ length: 20 }, () => b()));
    }
  });
});

describe('seededRandom', () => {
  it('is deterministic, in [0,1), and seed-sensitive', () => {
    const a = seededRandom(5);
    const b = seededRandom(5);
    const c = seededRandom(6);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05);
    assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
  });
});

describe('loadMnist', function () {
  this.timeout(30_000);
  it('gives a fixed, stratified 8,000/2,000 split of [28,28,1] pixels in [0,1] and labels 0..9', () => {
    const { train, test } = loadMnist();
    assert.equal(train.n, 8000);
    assert.equal(test.n, 2000);
    for (const d of [train, test]) {
      validateDataset(d);
      assert.deepEqual(d.sampleShape, [28, 28, 1]);
      assert.equal(d.numClasses, 10);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of d.x) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      assert.ok(lo >= 0 && hi <= 1 && hi > 0.9);
    }
    const count = (y: Int32Array) => Array.from({ length: 10 }, (_, c) => y.filter((v) => v === c).length);
    const tr = count(train.y);
    const te = count(test.y);
    tr.forEach((n, c) => assert.ok(Math.abs(te[c]! / (n + te[c]!) - 0.2) < 0.002, `class ${c}: ${te[c]} of ${n + te[c]!}`));
    // not class-sorted
    assert.ok(new Set(Array.from(train.y.subarray(0, 50))).size >= 8);
    assert.equal(loadMnist(), loadMnist()); // cached
  });
});

describe('syntheticDataset', () => {
  it('is deterministic, in [0,1], balanced, and shares prototypes across seeds', () => {
    const a = syntheticDataset([8, 8, 3], 4, 40, 1);
    const b = syntheticDataset([8, 8, 3], 4, 40, 1);
    const c = syntheticDataset([8, 8, 3], 4, 40, 2);
    validateDataset(a);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.x, c.x);
    assert.ok(a.x.every((v) => v >= 0 && v <= 1));
    assert.deepEqual(Array.from({ length: 4 }, (_, k) => a.y.filter((v) => v === k).length), [10, 10, 10, 10]);
    // learnable: nearest class mean of set a classifies set c well
    const ss = 8 * 8 * 3;
    const means = Array.from({ length: 4 }, () => new Float64Array(ss));
    for (let i = 0; i < a.n; i++) for (let j = 0; j < ss; j++) means[a.y[i]!]![j] += a.x[i * ss + j]! / 10;
    let ok = 0;
    for (let i = 0; i < c.n; i++) {
      let best = -1;
      let bestD = Infinity;
      means.forEach((m, k) => {
        let d = 0;
        for (let j = 0; j < ss; j++) d += (c.x[i * ss + j]! - m[j]!) ** 2;
        if (d < bestD) [bestD, best] = [d, k];
      });
      if (best === c.y[i]) ok++;
    }
    assert.ok(ok / c.n > 0.8, `nearest-mean accuracy ${ok / c.n}`);
  });
});

describe('partition', () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => i % 10);

  it('iid: disjoint, covering, balanced, deterministic', () => {
    const p = partition(labels, 7, { kind: 'iid', seed: 3 });
    checkPartition(p, 1000);
    assert.ok(p.every((s) => s.length === 142 || s.length === 143));
    assert.deepEqual(p, partition(labels, 7, { kind: 'iid', seed: 3 }));
    assert.notDeepEqual(p, partition(labels, 7, { kind: 'iid', seed: 4 }));
  });

  it('dirichlet: disjoint, covering, deterministic, respects minPerShard; small alpha is skewed', () => {
    const skew = (parts: Int32Array[]) =>
      parts.reduce((acc, s) => {
        const counts = new Array(10).fill(0);
        for (const i of s) counts[labels[i]!]++;
        return acc + Math.max(...counts) / s.length;
      }, 0) / parts.length;
    const small = partition(labels, 8, { kind: 'dirichlet', alpha: 0.1, seed: 1, minPerShard: 20 });
    checkPartition(small, 1000);
    assert.ok(small.every((s) => s.length >= 20));
    assert.deepEqual(small, partition(labels, 8, { kind: 'dirichlet', alpha: 0.1, seed: 1, minPerShard: 20 }));
    const large = partition(labels, 8, { kind: 'dirichlet', alpha: 100, seed: 1 });
    checkPartition(large, 1000);
    const iid = partition(labels, 8, { kind: 'iid', seed: 1 });
    assert.ok(skew(small) > 0.5, `alpha 0.1 skew ${skew(small)}`);
    assert.ok(skew(large) < 0.25 && skew(iid) < 0.25, `alpha 100 skew ${skew(large)}, iid ${skew(iid)}`);
  });

  it('validates its arguments', () => {
    assert.throws(() => partition(labels, 0, { kind: 'iid', seed: 1 }), /numShards/);
    assert.throws(() => partition(labels, 10, { kind: 'iid', seed: 1, minPerShard: 101 }), /cannot give/);
    assert.throws(() => partition(labels, 2, { kind: 'dirichlet', alpha: 0, seed: 1 }), /alpha/);
    assert.throws(() => partition(labels, 2, { kind: 'zipf' as 'iid', seed: 1 }), /unknown kind/);
  });
});

describe('BatchIterator', () => {
  const data = syntheticDataset([2, 2, 1], 3, 10, 1);
  const idx = Int32Array.from([0, 2, 3, 5, 7, 9, 1]);

  it('is deterministic and visits every index once per epoch, reshuffling each epoch', () => {
    const a = new BatchIterator(data, idx, 3, 11);
    const b = new BatchIterator(data, idx, 3, 11);
    const seenX: number[][] = [];
    for (let k = 0; k < 14; k++) {
      const ba = a.next();
      const bb = b.next();
      assert.deepEqual(ba, bb);
      assert.equal(ba.n, 3);
      for (let j = 0; j < ba.n; j++) seenX.push(Array.from(ba.x.subarray(j * 4, j * 4 + 4)));
    }
    assert.equal(a.epoch, 6); // 42 samples = 6 passes over 7 indices
    const key = (v: number[]) => v.join(',');
    const own = new Set(Array.from(idx, (i) => key(Array.from(data.x.subarray(i * 4, i * 4 + 4)))));
    const epochs = [0, 1, 2].map((e) => seenX.slice(e * 7, e * 7 + 7).map(key));
    for (const e of epochs) assert.deepEqual(new Set(e), own);
    assert.notDeepEqual(epochs[0], epochs[1]);
    const c = new BatchIterator(data, idx, 3, 12);
    assert.notDeepEqual(c.next().x, new BatchIterator(data, idx, 3, 11).next().x);
  });

  it('labels follow their samples; small shards give whole-shard batches', () => {
    const sub = subset(data, idx);
    const it = new BatchIterator(data, idx, 100, 1);
    const b = it.next();
    assert.equal(b.n, 7);
    assert.equal(it.epoch, 1);
    const bySample = new Map(Array.from({ length: sub.n }, (_, i) => [Array.from(sub.x.subarray(i * 4, i * 4 + 4)).join(','), sub.y[i]]));
    for (let j = 0; j < b.n; j++) assert.equal(b.y[j], bySample.get(Array.from(b.x.subarray(j * 4, j * 4 + 4)).join(',')));
    assert.throws(() => new BatchIterator(data, Int32Array.from([10]), 2, 1), /outside/);
    assert.throws(() => new BatchIterator(data, idx, 0, 1), /batchSize/);
  });
});
