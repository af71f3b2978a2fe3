import { sampleSize, type Dataset } from './dataset.js';
import { mixSeed, normal, seededRandom, shuffleInPlace } from './random.js';

/** Seed of the class prototypes: every synthetic dataset with the same shape and class count is the same task. */
export const SYNTHETIC_PROTOTYPE_SEED = 7919;

/**
 * A random but learnable classification task, for models without a bundled dataset (cnn-cifar).
 * Each class has a fixed prototype (for rank-3 [H,W,C] shapes: smooth, a random 4x4-per-channel grid
 * upsampled bilinearly; otherwise i.i.d. uniform); a sample is its class prototype plus Gaussian noise
 * (sigma 0.35), clipped to [0,1]. Prototypes depend only on (sampleShape, numClasses), so
 * syntheticDataset(s, k, n1, 1) and syntheticDataset(s, k, n2, 2) are a train and a test set of one task.
 * Labels are balanced (n / numClasses each, remainder to the first classes) in a seeded order.
 */
export function syntheticDataset(sampleShape: number[], numClasses: number, n: number, seed: number): Dataset {
  if (!sampleShape.length || sampleShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`syntheticDataset: bad sampleShape [${sampleShape.join(',')}]`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`syntheticDataset: numClasses must be >= 2, got ${numClasses}`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`syntheticDataset: n must be a non-negative integer, got ${n}`);
  const ss = sampleSize(sampleShape);
  const protoRand = seededRandom(mixSeed(SYNTHETIC_PROTOTYPE_SEED, numClasses, ...sampleShape));
  const protos: Float32Array[] = [];
  for (let c = 0; c < numClasses; c++) protos.push(prototype(sampleShape, protoRand));

  const rand = seededRandom(mixSeed(seed, 0x5eed));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = i % numClasses;
  shuffleInPlace(y, rand);
  const x = new Float32Array(n * ss);
  const sigma = 0.35;
  for (let i = 0; i < n; i++) {
    const p = protos[y[i]!]!;
    const off = i * ss;
    for (let j = 0; j < ss; j++) {
      const v = p[j]! + sigma * normal(rand);
      x[off + j] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { x, y, n, sampleShape: sampleShape.slice(), numClasses };
}

function prototype(shape: number[], rand: () => number): Float32Array {
  const ss = sampleSize(shape);
  const out = new Float32Array(ss);
  if (shape.length !== 3) {
    for (let i = 0; i < ss; i++) out[i] = rand();
    return out;
  }
  const [h, w, ch] = shape as [number, number, number];
  const g = 4;
  const grid = new Float32Array(g * g * ch);
  for (let i = 0; i < grid.length; i++) grid[i] = rand();
  for (let r = 0; r < h; r++) {
    const gy = h > 1 ? (r * (g - 1)) / (h - 1) : 0;
    const y0 = Math.min(g - 2, Math.floor(gy));
    const fy = gy - y0;
    for (let c = 0; c < w; c++) {
      const gx = w > 1 ? (c * (g - 1)) / (w - 1) : 0;
      const x0 = Math.min(g - 2, Math.floor(gx));
      const fx = gx - x0;
      for (let k = 0; k < ch; k++) {
        const at = (yy: number, xx: number) => grid[(yy * g + xx) * ch + k]!;
        const v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
        out[(r * w + c) * ch + k] = v;
      }
    }
  }
  return out;
}
