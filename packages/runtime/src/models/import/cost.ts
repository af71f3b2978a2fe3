// Forward FLOPs per sample of one imported layer, with the zoo's conventions (zoo.ts unitFlops): a
// multiply-add is 2, a bias add, an activation, a pooling comparison 1 per element. Layers not listed are
// estimated as 2 FLOPs per weight plus 1 per output element.
import type { JsonObject } from './spec.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Layers that only move or reshape data, or are identities at inference (dropout, noise). */
const FREE = new Set([
  'InputLayer', 'Flatten', 'Reshape', 'Permute', 'RepeatVector', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D',
  'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ZeroPadding2D', 'Cropping2D', 'Masking', 'Embedding',
]);
/** Elementwise activation layers: one FLOP per element (softmax: exp, sum, divide). */
const ELEMENTWISE: Record<string, number> = { Activation: 1, ReLU: 1, LeakyReLU: 1, PReLU: 1, ELU: 1, ThresholdedReLU: 1, Softmax: 3, Rescaling: 2 };

const num = (v: unknown, dflt: number): number => (typeof v === 'number' ? v : dflt);
const nums = (v: unknown, rank: number, dflt: number): number[] =>
  Array.isArray(v) ? (v as number[]) : Array.from({ length: rank }, () => num(v, dflt));

export function layerFlops(className: string, config: JsonObject, inShape: number[], outShape: number[], weightShapes: number[][]): number {
  const out = prod(outShape);
  const act = typeof config['activation'] === 'string' && config['activation'] !== 'linear' ? out * (config['activation'] === 'softmax' ? 3 : 1) : 0;
  const bias = config['useBias'] === false ? 0 : 1;
  const cin = inShape.at(-1) ?? 1;
  if (FREE.has(className)) return 0;
  if (className in ELEMENTWISE) {
    if (className === 'Activation') return config['activation'] === 'linear' ? 0 : out * (config['activation'] === 'softmax' ? 3 : 1);
    return out * ELEMENTWISE[className]!;
  }
  switch (className) {
    case 'Dense':
      return out * (2 * cin + bias) + act;
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D': {
      const rank = className === 'Conv1D' ? 1 : className === 'Conv2D' ? 2 : 3;
      const k = prod(nums(config['kernelSize'], rank, 1));
      const groups = num(config['groups'], 1);
      return out * (2 * k * (cin / groups) + bias) + act;
    }
    case 'DepthwiseConv2D': {
      const k = prod(nums(config['kernelSize'], 2, 1));
      return out * (2 * k + bias) + act;
    }
    case 'SeparableConv2D': {
      const k = prod(nums(config['kernelSize'], 2, 1));
      const mult = num(config['depthMultiplier'], 1);
      const spatial = prod(outShape.slice(0, -1));
      return spatial * cin * mult * 2 * k + out * (2 * cin * mult + bias) + act;
    }
    case 'Conv2DTranspose':
    case 'Conv3DTranspose': {
      const rank = className === 'Conv2DTranspose' ? 2 : 3;
      const k = prod(nums(config['kernelSize'], rank, 1));
      return prod(inShape) * 2 * k * (outShape.at(-1) ?? 1) + out * bias + act;
    }
    case 'MaxPooling1D':
    case 'AveragePooling1D':
      return out * prod(nums(config['poolSize'], 1, 2));
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return out * prod(nums(config['poolSize'], 2, 2));
    case 'MaxPooling3D':
    case 'AveragePooling3D':
      return out * prod(nums(config['poolSize'], 3, 2));
    case 'GlobalAveragePooling1D':
    case 'GlobalMaxPooling1D':
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return prod(inShape);
    case 'BatchNormalization':
      return 2 * out; // a scale and a shift per element at inference
    case 'LayerNormalization':
      return 5 * out;
    case 'UpSampling2D':
      return 0;
    default:
      return 2 * weightShapes.reduce((a, s) => a + prod(s), 0) + out;
  }
}
