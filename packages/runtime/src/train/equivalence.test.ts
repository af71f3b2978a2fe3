// The property of DESIGN §2: one edge, N devices, I1 = 1 => HSFL equals centralized SGD on the concatenated
// batches, for any cuts; and with c1 = c2 = L it is FedAvg.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SubModel } from '../models/submodel.js';
import { modelInfo } from '../models/zoo.js';
import { maxAbsDiff, randomBatch, useTestBackend } from '../models/testing.js';
import { assembleWeights, fedAvg } from './fedavg.js';

type Batch = { x: Float32Array; y: Int32Array; n: number };

/** One edge, devices.length devices; rounds[r][i] is device i's batch in round r. Returns the assembled weights. */
function runHsfl(name: string, c1: number, c2: number, seed: number, rounds: Batch[][], lr: number, I1: number): Float32Array[] {
  const { numUnits: L, inputShape } = modelInfo(name);
  const N = rounds[0]!.length;
  const devices = Array.from({ length: N }, () => SubModel.create(name, 0, c1, seed));
  const edge = SubModel.create(name, c1, c2, seed);
  const cloud = SubModel.create(name, c2, L, seed);
  const since = new Array<number>(N).fill(0);
  rounds.forEach((batches, r) => {
    const xs = batches.map((b) => tf.tensor(b.x, [b.n, ...inputShape]));
    const acts = devices.map((d, i) => d.forward(xs[i]!)); // 1. devices
    const a = tf.concat(acts, 0); // 2. edge concatenates
    const h = edge.forward(a);
    const labels = tf.tensor1d(Int32Array.from(batches.flatMap((b) => Array.from(b.y))), 'int32');
    const B = a.shape[0]!;
    const top = cloud.trainTop(h, labels, lr, c2 > 0); // 3. cloud
    if (c2 > 0) {
      const ga = edge.backward(a, top.dxSum!, B, lr, c1 > 0); // 4. edge
      if (c1 > 0) {
        const slices = tf.split(ga!, batches.map((b) => b.n), 0);
        devices.forEach((d, i) => d.backward(xs[i]!, slices[i]!, batches[i]!.n, lr, false)); // 5. devices
        tf.dispose(slices);
      }
      ga?.dispose();
    }
    tf.dispose([...xs, ...acts, a, h, labels]);
    top.dxSum?.dispose();
    batches.forEach((b, i) => (since[i]! += b.n));
    if ((r + 1) % I1 === 0) {
      const avg = fedAvg(devices.map((d) => d.getWeights()), since);
      devices.forEach((d) => d.setWeights(avg));
      since.fill(0);
    }
  });
  const out = assembleWeights(name, c1, c2, devices[0]!.getWeights(), edge.getWeights(), cloud.getWeights());
  [...devices, edge, cloud].forEach((s) => s.dispose());
  return out;
}

function runCentralized(name: string, seed: number, rounds: Batch[][], lr: number): Float32Array[] {
  const { numUnits: L, inputShape } = modelInfo(name);
  const full = SubModel.create(name, 0, L, seed);
  for (const batches of rounds) {
    const n = batches.reduce((a, b) => a + b.n, 0);
    const x = tf.concat(batches.map((b) => tf.tensor(b.x, [b.n, ...inputShape])), 0);
    const y = tf.tensor1d(Int32Array.from(batches.flatMap((b) => Array.from(b.y))), 'int32');
    assert.equal(x.shape[0], n);
    full.trainTop(x, y, lr, false);
    tf.dispose([x, y]);
  }
  const w = full.getWeights();
  full.dispose();
  return w;
}

function makeRounds(name: string, sizes: number[], k: number, seed: number): Batch[][] {
  const { inputShape, numClasses } = modelInfo(name);
  return Array.from({ length: k }, (_, r) => sizes.map((n, i) => randomBatch(inputShape, n, numClasses, seed + 100 * r + i)));
}

describe('HSFL = centralized SGD (one edge, I1 = 1)', function () {
  this.timeout(300_000);
  before(async () => {
    await useTestBackend();
  });

  it('mlp-mnist, every (c1, c2), 3 devices with batch sizes 2/5/3, k = 3', () => {
    const name = 'mlp-mnist';
    const L = modelInfo(name).numUnits;
    const rounds = makeRounds(name, [2, 5, 3], 3, 1);
    const ref = runCentralized(name, 17, rounds, 0.1);
    const start = SubModel.create(name, 0, L, 17);
    assert.ok(maxAbsDiff(ref, start.getWeights()) > 1e-3, 'training must move the weights');
    start.dispose();
    for (let c1 = 0; c1 <= L; c1++) {
      for (let c2 = c1; c2 <= L; c2++) {
        const got = runHsfl(name, c1, c2, 17, rounds, 0.1, 1);
        const d = maxAbsDiff(got, ref);
        assert.ok(d < 1e-4, `cuts (${c1},${c2}): max abs diff ${d}`);
      }
    }
  });

  it('cnn-mnist, every (c1, c2) incl. (0,0) (0,L) (L,L) (2,4) (1,6), 3 devices with batch sizes 1/3/2, k = 3', () => {
    const name = 'cnn-mnist';
    const L = modelInfo(name).numUnits;
    const rounds = makeRounds(name, [1, 3, 2], 3, 2);
    const ref = runCentralized(name, 5, rounds, 0.1);
    for (let c1 = 0; c1 <= L; c1++) {
      for (let c2 = c1; c2 <= L; c2++) {
        const got = runHsfl(name, c1, c2, 5, rounds, 0.1, 1);
        const d = maxAbsDiff(got, ref);
        assert.ok(d < 1e-4, `cuts (${c1},${c2}): max abs diff ${d}`);
      }
    }
  });

  it('resnet-mini (residual blocks as units), cuts (0,0) (1,3) (2,5) (6,6), 2 devices with batch sizes 1/2, k = 2', () => {
    const name = 'resnet-mini';
    const rounds = makeRounds(name, [1, 2], 2, 4);
    const ref = runCentralized(name, 8, rounds, 0.05);
    for (const [c1, c2] of [[0, 0], [1, 3], [2, 5], [6, 6]] as const) {
      const d = maxAbsDiff(runHsfl(name, c1, c2, 8, rounds, 0.05, 1), ref);
      assert.ok(d < 1e-4, `cuts (${c1},${c2}): max abs diff ${d}`);
    }
  });

  it('c1 = c2 = L with I1 = 2 is FedAvg of 2 local SGD steps', () => {
    const name = 'mlp-mnist';
    const { numUnits: L, inputShape } = modelInfo(name);
    const sizes = [3, 1, 4];
    const rounds = makeRounds(name, sizes, 2, 3);
    const got = runHsfl(name, L, L, 23, rounds, 0.2, 2);
    const locals = sizes.map((n, i) => {
      const s = SubModel.create(name, 0, L, 23);
      for (const batches of rounds) {
        const x = tf.tensor(batches[i]!.x, [n, ...inputShape]);
        const y = tf.tensor1d(batches[i]!.y, 'int32');
        s.trainTop(x, y, 0.2, false);
        tf.dispose([x, y]);
      }
      const w = s.getWeights();
      s.dispose();
      return w;
    });
    const avg = fedAvg(locals, sizes.map((n) => 2 * n));
    assert.ok(maxAbsDiff(got, avg) < 1e-5);
    // and it is not centralized SGD (local steps diverge)
    assert.ok(maxAbsDiff(got, runCentralized(name, 23, rounds, 0.2)) > 1e-5);
  });
});
