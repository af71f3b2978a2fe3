// Test support (not exported from the package): pick the fastest backend that can train CNNs.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { mulberry32 } from '../data/random.js';

let chosen: string | null = null;

/** initBackend() default; falls back to cpu when the chosen backend lacks Conv2DBackpropFilter. */
export async function useTestBackend(): Promise<string> {
  if (chosen && tf.getBackend() === chosen) return chosen;
  try {
    await initBackend();
  } catch {
    await initBackend({ preferred: 'cpu' });
  }
  if (!tf.getKernel('Conv2DBackpropFilter', tf.getBackend())) await initBackend({ preferred: 'cpu' });
  chosen = tf.getBackend();
  return chosen;
}

export function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  if (a.length !== b.length) throw new Error(`weight lists differ in length: ${a.length} vs ${b.length}`);
  let m = 0;
  a.forEach((w, i) => {
    const v = b[i]!;
    if (w.length !== v.length) throw new Error(`weight ${i} differs in length`);
    for (let j = 0; j < w.length; j++) m = Math.max(m, Math.abs(w[j]! - v[j]!));
  });
  return m;
}

export function randomBatch(shape: number[], n: number, numClasses: number, seed: number): { x: Float32Array; y: Int32Array; n: number } {
  const rand = mulberry32(seed);
  const size = n * shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(size);
  for (let i = 0; i < size; i++) x[i] = rand();
  const y = Int32Array.from({ length: n }, () => Math.floor(rand() * numClasses));
  return { x, y, n };
}
