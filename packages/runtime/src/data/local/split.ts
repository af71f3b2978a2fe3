// Held-out samples for federated evaluation: each device keeps a fixed, seeded part of its own data out of
// training, so the coordinator can ask for accuracy on data the model never saw, without data leaving
// the device. Depends only on labels, so it costs nothing to compute before any decoding.

import { mixSeed, seededRandom, shuffleInPlace } from '../random.js';

export interface HeldOutOptions {
  /** Fraction of samples held out, in [0, 1). */
  fraction: number;
  seed: number;
  /** Hold out the fraction of every class separately (default true), so rare classes are evaluated too. */
  stratify?: boolean;
}

/**
 * Splits sample indices 0..labels.length-1 into train and held-out sets: a seeded permutation (of each
 * class, when stratified) whose last round(count * fraction) entries are held out. Same labels and seed,
 * same split. Both sets are sorted ascending and disjoint, and together cover every index.
 */
export function heldOutSplit(labels: Int32Array, opts: HeldOutOptions): { train: Int32Array; heldOut: Int32Array } {
  const { fraction, seed } = opts;
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`heldOutSplit: fraction must be in [0, 1), got ${fraction}`);
  const n = labels.length;
  const rand = seededRandom(mixSeed(seed, n, 0x4e1d));
  const groups: number[][] = [];
  if (opts.stratify ?? true) {
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      let g = byClass.get(c);
      if (!g) byClass.set(c, (g = []));
      g.push(i);
    }
    for (const c of [...byClass.keys()].sort((a, b) => a - b)) groups.push(byClass.get(c)!);
  } else {
    groups.push(Array.from({ length: n }, (_, i) => i));
  }
  const train: number[] = [];
  const held: number[] = [];
  for (const g of groups) {
    shuffleInPlace(g, rand);
    const k = Math.round(g.length * fraction);
    for (let j = 0; j < g.length; j++) (j >= g.length - k ? held : train).push(g[j]!);
  }
  return { train: Int32Array.from(train).sort(), heldOut: Int32Array.from(held).sort() };
}

/** Samples per class among `indices` (all samples when omitted). */
export function countClasses(labels: Int32Array, numClasses: number, indices?: ArrayLike<number>, skip?: (i: number) => boolean): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  const m = indices ? indices.length : labels.length;
  for (let j = 0; j < m; j++) {
    const i = indices ? indices[j]! : j;
    if (skip?.(i)) continue;
    counts[labels[i]!]!++;
  }
  return counts;
}
