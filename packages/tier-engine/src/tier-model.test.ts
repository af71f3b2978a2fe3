import { strict as assert } from 'node:assert';
import { initBackend, modelInfo, SubModel, tf } from '@hsfl/runtime';
import { TierModel } from './tier-model.js';

const MODEL = 'mlp-mnist';
const SEED = 11;
const LR = 0.1;

function batch(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const x = Float32Array.from({ length: n * 28 * 28 }, () => rand());
  const y = Int32Array.from({ length: n }, () => Math.floor(rand() * 10));
  return { x, y };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function sameWeights(a: Float32Array[], b: Float32Array[], what: string): void {
  assert.equal(a.length, b.length, `${what}: weight count`);
  a.forEach((w, i) => assert.ok(maxDiff(w, b[i]!) < 1e-6, `${what}: weight ${i} differs by ${maxDiff(w, b[i]!)}`));
}

describe('TierModel', function () {
  this.timeout(60000);
  before(async () => {
    try {
      await initBackend();
    } catch {
      await initBackend({ preferred: 'cpu' });
    }
  });

  it('forward/backward/trainTop give the same outputs and weights as SubModel driven with tensors', () => {
    const L = modelInfo(MODEL).numUnits;
    const cuts: [number, number][] = [[0, 2], [2, 3], [3, L]];
    const tiers = cuts.map(([s, e]) => TierModel.create(MODEL, s, e, SEED));
    const subs = cuts.map(([s, e]) => SubModel.create(MODEL, s, e, SEED));
    const [dev, edge, top] = tiers as [TierModel, TierModel, TierModel];
    const [sDev, sEdge, sTop] = subs as [SubModel, SubModel, SubModel];
    assert.ok(top.isTop && !edge.isTop && !dev.isTop);
    assert.deepEqual(dev.inputShape(), [28, 28, 1]);
    assert.equal(dev.inPerSample, 784);
    assert.equal(dev.outPerSample, edge.inPerSample);
    assert.ok(edge.holds(MODEL, 2, 3) && !edge.holds(MODEL, 1, 3) && !edge.holds('cnn-mnist', 2, 3));

    for (let step = 0; step < 2; step++) {
      const n = 3 + step;
      const { x, y } = batch(n, 100 + step);

      // TierModel, on flat arrays
      const h1 = dev.forward(x, n);
      const h2 = edge.forward(h1, n);
      const t = top.trainTop(h2, y, n, LR, true);
      const d1 = edge.backward(t.dx!, LR, true)!;
      const d0 = dev.backward(d1, LR, false);
      assert.equal(d0, null);

      // SubModel, with tensors
      const xt = tf.tensor(x, [n, 28, 28, 1]);
      const r1 = sDev.forward(xt);
      const r2 = sEdge.forward(r1);
      const yt = tf.tensor1d(y, 'int32');
      const rt = sTop.trainTop(r2, yt, LR, true);
      const rd1 = sEdge.backward(r1, rt.dxSum!, n, LR, true)!;
      const rd0 = sDev.backward(xt, rd1, n, LR, false);
      assert.equal(rd0, null);

      assert.ok(maxDiff(h1, r1.dataSync()) < 1e-6, 'device output');
      assert.ok(maxDiff(h2, r2.dataSync()) < 1e-6, 'edge output');
      assert.ok(Math.abs(t.lossSum - rt.lossSum) < 1e-4, `loss ${t.lossSum} vs ${rt.lossSum}`);
      assert.equal(t.correct, rt.correct);
      assert.ok(maxDiff(t.dx!, rt.dxSum!.dataSync()) < 1e-6, 'top input gradient');
      assert.ok(maxDiff(d1, rd1.dataSync()) < 1e-6, 'edge input gradient');
      assert.equal(t.dx!.length, n * top.inPerSample);
      assert.equal(d1.length, n * edge.inPerSample);
      tf.dispose([xt, r1, r2, yt, rt.dxSum!, rd1]);

      tiers.forEach((tm, i) => sameWeights(tm.getWeights(), subs[i]!.getWeights(), `tier ${i} after step ${step}`));
    }
    tiers.forEach((t) => t.dispose());
    subs.forEach((s) => s.dispose());
  });

  it('does not leak tensors over forward/backward/trainTop/discard', () => {
    const dev = TierModel.create(MODEL, 0, 2, SEED);
    const top = TierModel.create(MODEL, 2, modelInfo(MODEL).numUnits, SEED);
    const { x, y } = batch(2, 5);
    // warm up (lazily created variables and kernels)
    top.trainTop(dev.forward(x, 2), y, 2, LR, true);
    dev.discard();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const h = dev.forward(x, 2);
      const t = top.trainTop(h, y, 2, LR, true);
      dev.backward(t.dx!, LR, false);
    }
    dev.forward(x, 2);
    dev.forward(x, 2); // a new forward releases the kept input
    dev.discard();
    assert.equal(tf.memory().numTensors, before);
    dev.dispose();
    top.dispose();
  });

  it('backward without a forward throws, and so does a second backward', () => {
    const edge = TierModel.create(MODEL, 1, 3, SEED);
    const dy = new Float32Array(2 * edge.outPerSample);
    assert.throws(() => edge.backward(dy, LR, true), /backward without a forward/);
    edge.forward(new Float32Array(2 * edge.inPerSample), 2);
    edge.backward(dy, LR, true);
    assert.throws(() => edge.backward(dy, LR, true), /backward without a forward/);
    edge.forward(new Float32Array(2 * edge.inPerSample), 2);
    edge.discard();
    assert.throws(() => edge.backward(dy, LR, true), /backward without a forward/);
    edge.dispose();
  });

  it('tracks gradient norms: lastUnitGradSq has end - start entries after a step', () => {
    // The old coordinator lost gradient norms after a plan switch: a new top model did not track them.
    const L = modelInfo(MODEL).numUnits;
    const top = TierModel.create(MODEL, 1, L, SEED);
    const edge = TierModel.create(MODEL, 0, 1, SEED); // flatten only: no weights
    assert.deepEqual(top.lastUnitGradSq, []);
    const { x, y } = batch(3, 9);
    const t = top.trainTop(edge.forward(x, 3), y, 3, LR, true);
    assert.equal(top.lastUnitGradSq.length, L - 1);
    assert.ok(top.lastUnitGradSq.every((v) => Number.isFinite(v) && v >= 0));
    assert.ok(top.lastUnitGradSq.some((v) => v > 0));
    edge.backward(t.dx!, LR, false);
    assert.deepEqual(edge.lastUnitGradSq, [0]);

    const mid = TierModel.create(MODEL, 1, 3, SEED);
    mid.forward(new Float32Array(2 * mid.inPerSample).fill(0.5), 2);
    mid.backward(new Float32Array(2 * mid.outPerSample).fill(1), LR, false);
    assert.equal(mid.lastUnitGradSq.length, 2);
    assert.ok(mid.lastUnitGradSq.every((v) => v > 0));
    [top, edge, mid].forEach((m) => m.dispose());
  });

  it('cnn-mnist: a cut between convolutions matches SubModel and tracks norms', () => {
    const name = 'cnn-mnist';
    const L = modelInfo(name).numUnits;
    const low = TierModel.create(name, 0, 2, SEED);
    const high = TierModel.create(name, 2, L, SEED);
    const sLow = SubModel.create(name, 0, 2, SEED);
    const sHigh = SubModel.create(name, 2, L, SEED);
    const { x, y } = batch(2, 3);
    const t = high.trainTop(low.forward(x, 2), y, 2, LR, true);
    low.backward(t.dx!, LR, false);
    const xt = tf.tensor(x, [2, 28, 28, 1]);
    const h = sLow.forward(xt);
    const yt = tf.tensor1d(y, 'int32');
    const r = sHigh.trainTop(h, yt, LR, true);
    sLow.backward(xt, r.dxSum!, 2, LR, false);
    tf.dispose([xt, h, yt, r.dxSum!]);
    sameWeights(low.getWeights(), sLow.getWeights(), 'low');
    sameWeights(high.getWeights(), sHigh.getWeights(), 'high');
    assert.equal(low.lastUnitGradSq.length, 2);
    assert.equal(high.lastUnitGradSq.length, L - 2);
    [low, high].forEach((m) => m.dispose());
    [sLow, sHigh].forEach((m) => m.dispose());
  });

  it('an empty tier passes activations and gradients through', () => {
    const e = TierModel.create(MODEL, 2, 2, SEED);
    assert.ok(e.isEmpty);
    assert.deepEqual(e.getWeights(), []);
    const x = Float32Array.from({ length: 2 * e.inPerSample }, (_, i) => i);
    const out = e.forward(x, 2);
    assert.deepEqual(Array.from(out), Array.from(x));
    const dy = Float32Array.from({ length: 2 * e.outPerSample }, (_, i) => -i);
    assert.deepEqual(Array.from(e.backward(dy, LR, true)!), Array.from(dy));
    e.forward(x, 2);
    assert.equal(e.backward(dy, LR, false), null);
    e.dispose();
  });

  it('setWeights / getWeights round-trip and a wrong list throws', () => {
    const m = TierModel.create(MODEL, 1, 3, SEED);
    const ws = m.getWeights().map((w) => w.map((_, i) => i * 1e-3));
    m.setWeights(ws);
    sameWeights(m.getWeights(), ws, 'round-trip');
    assert.deepEqual(m.weightShapes().map((s) => s.reduce((a, b) => a * b, 1)), ws.map((w) => w.length));
    assert.throws(() => m.setWeights(ws.slice(1)));
    m.dispose();
  });

  describe('on the cpu backend (which keeps the arrays it is given)', () => {
    let previous = '';
    before(async () => {
      previous = tf.getBackend();
      await initBackend({ preferred: 'cpu' });
    });
    after(async () => {
      if (previous && previous !== 'cpu') await initBackend();
    });

    it('does not alias the caller\'s arrays: mutating x after forward does not change backward', () => {
      // tf.tensor(x) on the cpu backend keeps x itself, so the input kept for
      // backward() is the caller's array, and an empty tier hands back the
      // caller's own array from forward() and backward().
      const run = (mutate: boolean) => {
        const m = TierModel.create(MODEL, 1, 3, SEED);
        const x = Float32Array.from({ length: 2 * m.inPerSample }, (_, i) => (i % 7) / 7);
        m.forward(x, 2);
        if (mutate) x.fill(0);
        const dx = m.backward(new Float32Array(2 * m.outPerSample).fill(1), LR, true)!;
        const w = m.getWeights();
        m.dispose();
        return { dx, w };
      };
      const a = run(false);
      const b = run(true);
      sameWeights(b.w, a.w, 'weights after a step');
      assert.ok(maxDiff(a.dx, b.dx) < 1e-6, 'input gradient');

      const e = TierModel.create(MODEL, 2, 2, SEED);
      const x = new Float32Array(2 * e.inPerSample).fill(1);
      assert.notEqual(e.forward(x, 2).buffer, x.buffer, 'forward of an empty tier returns the input array');
      const dy = new Float32Array(2 * e.outPerSample).fill(2);
      assert.notEqual(e.backward(dy, LR, true)!.buffer, dy.buffer, 'backward of an empty tier returns dy');
      e.dispose();
    });
  });
});
