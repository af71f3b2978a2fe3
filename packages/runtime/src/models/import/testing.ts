// Test support (not exported from the package): small tfjs Layers models built in code and saved to temp
// directories, and a Keras-converter-style model.json written by hand.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mulberry32 } from '../../data/random.js';
import { fileSaveHandler, type SaveOptions } from './file-io.js';

export async function tempDir(prefix = 'hsfl-import-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * Seeded values in [-scale, scale] for every weight of `model` (non-zero biases; positive BN variances);
 * scale 'he': kernels He-uniform (sqrt(6 / fan in)), everything else in [-0.05, 0.05].
 */
export function seedWeights(model: tfl.LayersModel, seed: number, scale: number | 'he' = 0.3): void {
  const rand = mulberry32(seed);
  model.setWeights(
    model.weights.map((v) => {
      const shape = v.shape as number[];
      const size = shape.reduce((a, b) => a * b, 1);
      const limit = scale !== 'he' ? scale : shape.length > 1 ? Math.sqrt(6 / (size / shape.at(-1)!)) : 0.05;
      const vals = Float32Array.from({ length: size }, () => (2 * rand() - 1) * limit);
      if (v.originalName.endsWith('moving_variance')) vals.forEach((x, i) => (vals[i] = 0.5 + Math.abs(x)));
      return tf.tensor(vals, v.shape as number[]);
    }),
  );
}

export async function saveModel(model: tfl.LayersModel, dir: string, opts: SaveOptions = {}): Promise<string> {
  await model.save(fileSaveHandler(dir, opts));
  return dir;
}

/** Sequential CNN on [10,10,1]: conv+relu, pool, conv, BN, relu, flatten, dropout, dense relu, dense softmax (4 classes). */
export function sequentialCnn(inputShape = [10, 10, 1], classes = 4): tfl.Sequential {
  const m = tfl.sequential({ name: 'seq_cnn' });
  m.add(tfl.layers.conv2d({ inputShape, filters: 4, kernelSize: 3, activation: 'relu', name: 'conv1' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 2, padding: 'same', name: 'conv2' }));
  m.add(tfl.layers.batchNormalization({ name: 'bn2' }));
  m.add(tfl.layers.activation({ activation: 'relu', name: 'relu2' }));
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dropout({ rate: 0.25, name: 'drop' }));
  m.add(tfl.layers.dense({ units: 12, activation: 'relu', name: 'fc1' }));
  m.add(tfl.layers.dense({ units: classes, activation: 'softmax', name: 'probs' }));
  return m;
}

/** Functional linear chain on [6]: dense relu, dense, dropout, dense (logits), Softmax layer (3 classes). */
export function functionalChain(): tfl.LayersModel {
  const x = tfl.input({ shape: [6], name: 'features' });
  let y = tfl.layers.dense({ units: 8, activation: 'relu', name: 'h1' }).apply(x) as tfl.SymbolicTensor;
  y = tfl.layers.dense({ units: 5, name: 'h2' }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.leakyReLU({ alpha: 0.1, name: 'h2_act' }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.dense({ units: 3, name: 'logits' }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.softmax({ name: 'probs' }).apply(y) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y, name: 'func_chain' });
}

/** Functional model with a residual Add (branching: refused). */
export function residualModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [6, 6, 2], name: 'img' });
  const a = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', name: 'res_a' }).apply(x) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'res_b' }).apply(a) as tfl.SymbolicTensor;
  const s = tfl.layers.add({ name: 'res_add' }).apply([b, x]) as tfl.SymbolicTensor;
  const f = tfl.layers.flatten({ name: 'flat' }).apply(s) as tfl.SymbolicTensor;
  const o = tfl.layers.dense({ units: 3, name: 'out' }).apply(f) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: o, name: 'residual' });
}

/** An MLP whose input feeds two layers that are concatenated (branching: refused). */
export function fanOutModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'in' });
  const a = tfl.layers.dense({ units: 3, name: 'left' }).apply(x) as tfl.SymbolicTensor;
  const b = tfl.layers.dense({ units: 3, name: 'right' }).apply(x) as tfl.SymbolicTensor;
  const c = tfl.layers.concatenate({ name: 'join' }).apply([a, b]) as tfl.SymbolicTensor;
  const o = tfl.layers.dense({ units: 2, name: 'out' }).apply(c) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: o, name: 'fan_out' });
}

/** A small CNN for 28x28x1 MNIST (10 classes, softmax output, as a Keras user would write it). */
export function mnistCnn(): tfl.Sequential {
  const m = tfl.sequential({ name: 'my_mnist_cnn' });
  m.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, strides: 2, activation: 'relu', name: 'c1' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'p1' }));
  m.add(tfl.layers.flatten({ name: 'f' }));
  m.add(tfl.layers.dense({ units: 32, activation: 'relu', name: 'd1' }));
  m.add(tfl.layers.dropout({ rate: 0.2, name: 'drop' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', name: 'out' }));
  return m;
}

/**
 * A model.json as the tensorflowjs Keras converter (Keras 2) writes it: Python class names and snake_case
 * configs, an explicit InputLayer, the topology under model_config with keras_version/backend and a
 * training_config, weights in two groups, the first split over two shards. Sequential on [6,6,1]:
 * Conv2D 3x3x2 relu, MaxPooling2D, Flatten, Dense 3 softmax. Returns the directory and the weight values.
 */
export async function writeKerasStyleModel(dir: string, seed: number): Promise<{ dir: string; weights: Record<string, Float32Array> }> {
  const rand = mulberry32(seed);
  const vals = (n: number) => Float32Array.from({ length: n }, () => (2 * rand() - 1) * 0.5);
  const weights: Record<string, Float32Array> = {
    'conv2d/kernel': vals(3 * 3 * 1 * 2),
    'conv2d/bias': vals(2),
    'dense/kernel': vals(8 * 3),
    'dense/bias': vals(3),
  };
  const topology = {
    keras_version: '2.15.0',
    backend: 'tensorflow',
    model_config: {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          { class_name: 'InputLayer', config: { batch_input_shape: [null, 6, 6, 1], dtype: 'float32', sparse: false, ragged: false, name: 'conv2d_input' } },
          {
            class_name: 'Conv2D',
            config: {
              name: 'conv2d', trainable: true, dtype: 'float32', batch_input_shape: [null, 6, 6, 1], filters: 2, kernel_size: [3, 3],
              strides: [1, 1], padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], groups: 1, activation: 'relu',
              use_bias: true, kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
              bias_initializer: { class_name: 'Zeros', config: {} }, kernel_regularizer: null, bias_regularizer: null,
              activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
            },
          },
          {
            class_name: 'MaxPooling2D',
            config: { name: 'max_pooling2d', trainable: true, dtype: 'float32', pool_size: [2, 2], padding: 'valid', strides: [2, 2], data_format: 'channels_last' },
          },
          { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', data_format: 'channels_last' } },
          {
            class_name: 'Dense',
            config: {
              name: 'dense', trainable: true, dtype: 'float32', units: 3, activation: 'softmax', use_bias: true,
              kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } }, bias_initializer: { class_name: 'Zeros', config: {} },
              kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
            },
          },
        ],
      },
    },
    training_config: {
      loss: 'sparse_categorical_crossentropy',
      metrics: [[{ class_name: 'MeanMetricWrapper', config: { name: 'accuracy', dtype: 'float32', fn: 'sparse_categorical_accuracy' } }]],
      weighted_metrics: null,
      loss_weights: null,
      optimizer_config: { class_name: 'Custom>Adam', config: { name: 'Adam', learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false } },
    },
  };
  const bytes = (names: string[]) => {
    const total = names.reduce((a, n) => a + weights[n]!.length, 0);
    const out = new Uint8Array(total * 4);
    const view = new DataView(out.buffer);
    let off = 0;
    for (const n of names) for (const v of weights[n]!) view.setFloat32((off++) * 4, v, true);
    return out;
  };
  const g1 = bytes(['conv2d/kernel', 'conv2d/bias']); // 80 bytes: shards of 48 and 32
  const g2 = bytes(['dense/kernel', 'dense/bias']);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'group1-shard1of2.bin'), g1.subarray(0, 48));
  await fs.writeFile(path.join(dir, 'group1-shard2of2.bin'), g1.subarray(48));
  await fs.writeFile(path.join(dir, 'group2-shard1of1.bin'), g2);
  const spec = (name: string, shape: number[]) => ({ name, shape, dtype: 'float32' });
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'keras v2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: topology,
    weightsManifest: [
      { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [spec('conv2d/kernel', [3, 3, 1, 2]), spec('conv2d/bias', [2])] },
      { paths: ['group2-shard1of1.bin'], weights: [spec('dense/kernel', [8, 3]), spec('dense/bias', [3])] },
    ],
  };
  await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson, null, 1));
  return { dir, weights };
}
