// The generated CSV problem is meant for benches and end-to-end tests that train an MLP on local tabular
// data; this checks that a small one learns it from streamed batches and is evaluated on a held-out part.
import assert from 'node:assert/strict';
import path from 'node:path';
import { mixSeed, normal, seededRandom } from '../random.js';
import { openLocalDataset } from './open.js';
import { tempDir } from './test-helpers.js';
import { writeTabularCsv } from './testdata.js';

/** A 1-hidden-layer ReLU MLP with softmax cross-entropy, trained by plain SGD. */
class TinyMlp {
  readonly w1: Float64Array;
  readonly b1: Float64Array;
  readonly w2: Float64Array;
  readonly b2: Float64Array;
  constructor(readonly f: number, readonly h: number, readonly k: number, seed: number) {
    const r = seededRandom(seed);
    this.w1 = Float64Array.from({ length: f * h }, () => normal(r) * Math.sqrt(2 / f));
    this.b1 = new Float64Array(h);
    this.w2 = Float64Array.from({ length: h * k }, () => normal(r) * Math.sqrt(1 / h));
    this.b2 = new Float64Array(k);
  }

  private forward(x: ArrayLike<number>, o: number): { hid: Float64Array; p: Float64Array } {
    const { f, h, k } = this;
    const hid = new Float64Array(h);
    for (let j = 0; j < h; j++) {
      let s = this.b1[j]!;
      for (let i = 0; i < f; i++) s += x[o + i]! * this.w1[i * h + j]!;
      hid[j] = Math.max(0, s);
    }
    const p = new Float64Array(k);
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let s = this.b2[c]!;
      for (let j = 0; j < h; j++) s += hid[j]! * this.w2[j * k + c]!;
      p[c] = s;
      max = Math.max(max, s);
    }
    let z = 0;
    for (let c = 0; c < k; c++) z += p[c] = Math.exp(p[c]! - max);
    for (let c = 0; c < k; c++) p[c]! /= z;
    return { hid, p };
  }

  predict(x: ArrayLike<number>, o: number): number {
    const { p } = this.forward(x, o);
    return p.indexOf(Math.max(...p));
  }

  step(x: Float32Array, y: Int32Array, n: number, lr: number): void {
    const { f, h, k } = this;
    const g1 = new Float64Array(f * h);
    const gb1 = new Float64Array(h);
    const g2 = new Float64Array(h * k);
    const gb2 = new Float64Array(k);
    for (let s = 0; s < n; s++) {
      const { hid, p } = this.forward(x, s * f);
      p[y[s]!]! -= 1;
      for (let c = 0; c < k; c++) {
        gb2[c]! += p[c]!;
        for (let j = 0; j < h; j++) g2[j * k + c]! += hid[j]! * p[c]!;
      }
      for (let j = 0; j < h; j++) {
        if (hid[j]! <= 0) continue;
        let d = 0;
        for (let c = 0; c < k; c++) d += this.w2[j * k + c]! * p[c]!;
        gb1[j]! += d;
        for (let i = 0; i < f; i++) g1[i * h + j]! += x[s * f + i]! * d;
      }
    }
    const a = lr / n;
    g1.forEach((g, i) => (this.w1[i]! -= a * g));
    gb1.forEach((g, i) => (this.b1[i]! -= a * g));
    g2.forEach((g, i) => (this.w2[i]! -= a * g));
    gb2.forEach((g, i) => (this.b2[i]! -= a * g));
  }
}

describe('generated tabular CSV', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => ({ dir, remove } = await tempDir('tab')));
  after(() => remove());

  for (const seed of [1, 2, 4]) {
    it(`is learnt by a small MLP from streamed batches, evaluated on held-out rows (seed ${seed})`, async () => {
      const file = path.join(dir, `t${seed}.csv`);
      const t = await writeTabularCsv(file, { n: 1200, seed });
      const ds = await openLocalDataset(t.declaration, file);
      const { train, heldOut } = ds.split({ fraction: 0.25, seed });
      const mlp = new TinyMlp(4, 16, 3, mixSeed(seed, 1));
      const it = ds.batches({ indices: train, batchSize: 32, seed });
      for (let s = 0; s < 300; s++) {
        const b = await it.next();
        mlp.step(b.x, b.y, b.n, 0.2);
      }
      await it.close();
      let right = 0;
      let total = 0;
      for await (const b of ds.pass({ indices: heldOut, batchSize: 64 })) {
        for (let s = 0; s < b.n; s++) right += mlp.predict(b.x, s * 4) === b.y[s] ? 1 : 0;
        total += b.n;
      }
      assert.equal(total, heldOut.length);
      assert.ok(right / total > 0.85, `held-out accuracy ${(right / total).toFixed(3)}`);
    });
  }
});
