import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.js';
import { BatchIterator } from '../data/batch.js';
import { SubModel } from '../models/submodel.js';
import { modelSpec } from '../models/zoo.js';

/** Mean softmax cross-entropy and accuracy of the full model with `weights` on every sample of `data`. */
export function evaluate(modelName: string, weights: Float32Array[], data: Dataset, batchSize = 256): { loss: number; accuracy: number; samples: number } {
  const m = modelSpec(modelName);
  if (data.sampleShape.join(',') !== m.inputShape.join(',')) {
    throw new Error(`evaluate: data samples are [${data.sampleShape}], ${modelName} takes [${m.inputShape}]`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`evaluate: bad batchSize ${batchSize}`);
  if (data.n === 0) return { loss: NaN, accuracy: NaN, samples: 0 };
  const sub = SubModel.create(modelName, 0, m.units.length, 0);
  try {
    sub.setWeights(weights);
    const ss = m.inputShape.reduce((a, b) => a * b, 1);
    let lossSum = 0;
    let correct = 0;
    for (let at = 0; at < data.n; at += batchSize) {
      const n = Math.min(batchSize, data.n - at);
      const r = tf.tidy(() => {
        const x = tf.tensor(data.x.subarray(at * ss, (at + n) * ss), [n, ...m.inputShape], 'float32');
        const y = tf.tensor1d(data.y.subarray(at, at + n), 'int32');
        const logits = sub.forward(x);
        const loss = tf.neg(tf.sum(tf.mul(tf.oneHot(y, m.numClasses), tf.logSoftmax(logits))));
        const ok = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'));
        return tf.stack([loss, ok]);
      });
      const [l, c] = r.dataSync();
      r.dispose();
      lossSum += l!;
      correct += c!;
    }
    return { loss: lossSum / data.n, accuracy: correct / data.n, samples: data.n };
  } finally {
    sub.dispose();
  }
}

export interface CentralizedOptions {
  seed: number;
  batchSize: number;
  lr: number;
  /** Number of SGD steps (default: one epoch's worth). */
  steps?: number;
  /** Indices of `data` to train on (default all). */
  indices?: Int32Array;
  /** Start from these weights instead of the seeded init. */
  weights?: Float32Array[];
  onStep?: (step: number, lossMean: number, accuracy: number) => void;
}

/** Plain centralized mini-batch SGD of the full model (the reference HSFL must match); returns the weights. */
export function trainCentralized(modelName: string, data: Dataset, opts: CentralizedOptions): Float32Array[] {
  const m = modelSpec(modelName);
  const indices = opts.indices ?? Int32Array.from({ length: data.n }, (_, i) => i);
  const it = new BatchIterator(data, indices, opts.batchSize, opts.seed);
  const steps = opts.steps ?? Math.ceil(indices.length / opts.batchSize);
  const sub = SubModel.create(modelName, 0, m.units.length, opts.seed);
  try {
    if (opts.weights) sub.setWeights(opts.weights);
    for (let s = 0; s < steps; s++) {
      const b = it.next();
      const x = tf.tensor(b.x, [b.n, ...m.inputShape], 'float32');
      const y = tf.tensor1d(b.y, 'int32');
      const r = sub.trainTop(x, y, opts.lr, false);
      x.dispose();
      y.dispose();
      opts.onStep?.(s, r.lossSum / b.n, r.correct / b.n);
    }
    return sub.getWeights();
  } finally {
    sub.dispose();
  }
}
