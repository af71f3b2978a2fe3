/**
 * End-to-end: one SGD step of small models gives the same weights on wasm and
 * fast cpu as on the stock cpu backend, and 100 steps do not leak.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { STOCK_CPU_BACKEND, registerProjectKernels } from './index.js';
import { maxAbsDiff, randInt, rng, uniform } from './testing.js';

const TOL = 1e-4;

type Builder = () => tfl.LayersModel;

/** conv-relu-maxpool-conv-relu-maxpool-flatten-dense */
const smallCnn: Builder = () =>
  tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });

/** strided conv, batchnorm, depthwise, residual add, avg pool, linear-fused dense. */
const residualNet: Builder = () => {
  const input = tfl.input({ shape: [10, 10, 3] });
  const c1 = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })
    .apply(input) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization().apply(c1) as tfl.SymbolicTensor;
  const dw = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 1 })
    .apply(bn) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([c1, dw]) as tfl.SymbolicTensor;
  const pooled = tfl.layers.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(sum) as tfl.SymbolicTensor;
  const sep = tfl.layers.separableConv2d({ filters: 4, kernelSize: 2, depthMultiplier: 2, activation: 'relu' })
    .apply(pooled) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten().apply(sep) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 5, activation: 'softmax' }).apply(flat) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
};

/** embedding (gather -> UnsortedSegmentSum in backprop) + dense. */
const embeddingNet: Builder = () =>
  tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: 20, outputDim: 4, inputLength: 6 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 8, activation: 'relu' }),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });

interface Batch {
  x: Float32Array;
  xShape: number[];
  labels: Int32Array;
  classes: number;
}

function makeBatch(seed: number, xShape: number[], classes: number, integer?: number): Batch {
  const r = rng(seed);
  const n = xShape.reduce((a, b) => a * b, 1);
  const x = integer ? Float32Array.from({ length: n }, () => randInt(r, 0, integer - 1)) : uniform(r, n, 0, 1);
  const labels = Int32Array.from({ length: xShape[0] }, () => randInt(r, 0, classes - 1));
  return { x, xShape, labels, classes };
}

/** Deterministic initial weights, the same on every backend. */
function initialWeights(build: Builder, seed: number): Float32Array[] {
  const r = rng(seed);
  const model = build();
  const shapes = model.getWeights().map((w) => w.shape);
  model.dispose();
  return shapes.map((s) => uniform(r, s.reduce((a, b) => a * b, 1), -0.5, 0.5));
}

function setWeights(model: tfl.LayersModel, ws: Float32Array[]): void {
  const current = model.getWeights();
  const ts = ws.map((w, i) => tf.tensor(w, current[i].shape));
  model.setWeights(ts);
  tf.dispose(ts);
}

async function trainSteps(backend: string, build: Builder, w0: Float32Array[], batch: Batch, steps: number,
  onStep?: (i: number) => void): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), backend);
  const model = build();
  setWeights(model, w0);
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const x = tf.tensor(batch.x, batch.xShape);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.labels, 'int32'), batch.classes));
  for (let i = 0; i < steps; i++) {
    await model.trainOnBatch(x, y);
    onStep?.(i);
  }
  const out = model.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
  tf.dispose([x, y]);
  model.dispose();
  return out;
}

function worstDiff(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((w, i) => maxAbsDiff(w, b[i])));
}

const MODELS: Array<{ name: string; build: Builder; batch: () => Batch }> = [
  { name: 'small CNN (conv-relu-maxpool x2, dense)', build: smallCnn, batch: () => makeBatch(1, [32, 12, 12, 1], 10) },
  { name: 'residual net (stride 2, batchnorm, depthwise, add, avgpool, separable)', build: residualNet,
    batch: () => makeBatch(2, [32, 10, 10, 3], 5) },
  { name: 'embedding net', build: embeddingNet, batch: () => makeBatch(3, [32, 6], 3, 20) },
];

describe('training with project kernels', function () {
  this.timeout(120_000);

  before(() => {
    registerProjectKernels('wasm');
    registerProjectKernels('cpu');
  });

  for (const m of MODELS) {
    it(`one SGD step of ${m.name}: wasm and fast cpu match stock cpu`, async () => {
      const w0 = initialWeights(m.build, 7);
      const batch = m.batch();
      const ref = await trainSteps(STOCK_CPU_BACKEND, m.build, w0, batch, 1);
      assert.ok(worstDiff(ref, w0) > 1e-3, 'the step changes the weights');
      for (const be of ['wasm', 'cpu']) {
        const got = await trainSteps(be, m.build, w0, batch, 1);
        const d = worstDiff(got, ref);
        assert.ok(d < TOL, `${be}: max abs weight diff ${d}`);
      }
    });
  }

  for (const be of ['wasm', 'cpu']) {
    it(`100 training steps on ${be} keep tf.memory() flat`, async () => {
      const w0 = initialWeights(smallCnn, 9);
      const counts: Array<{ tensors: number; data: number; bytes: number }> = [];
      await trainSteps(be, smallCnn, w0, makeBatch(4, [32, 12, 12, 1], 10), 101, () => {
        counts.push({
          tensors: tf.memory().numTensors,
          data: tf.engine().backend.numDataIds(),
          bytes: tf.memory().numBytes,
        });
      });
      // after the first (warm-up) step, every step must end where the first ended
      const first = counts[0];
      for (const [i, c] of counts.entries()) {
        assert.deepEqual(c, first, `${be}: step ${i}: ${JSON.stringify(c)} vs ${JSON.stringify(first)}`);
      }
    });
  }
});
