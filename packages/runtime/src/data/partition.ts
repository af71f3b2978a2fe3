import { gamma, mixSeed, seededRandom, shuffleInPlace } from './random.js';

export interface PartitionOptions {
  kind: 'iid' | 'dirichlet';
  /** Dirichlet concentration (default 0.5); small (0.1) = each shard sees few classes, large (100) ~ iid. */
  alpha?: number;
  seed: number;
  /** Every shard gets at least this many samples (default 1). */
  minPerShard?: number;
}

/**
 * Splits sample indices 0..labels.length-1 into `numShards` disjoint sets covering all of them,
 * deterministically from `seed`. Each returned set is sorted ascending.
 * - iid: a seeded shuffle dealt into near-equal shards (sizes differ by at most one).
 * - dirichlet: for every class, proportions p ~ Dir(alpha) over shards split that class's (shuffled)
 *   samples; redrawn (up to 200 times) until every shard has minPerShard samples, then, if still short,
 *   repaired by moving random samples from the largest shards.
 */
export function partition(labels: Int32Array, numShards: number, opts: PartitionOptions): Int32Array[] {
  const n = labels.length;
  if (!Number.isInteger(numShards) || numShards < 1) throw new Error(`partition: numShards must be a positive integer, got ${numShards}`);
  const minPer = opts.minPerShard ?? 1;
  if (!Number.isInteger(minPer) || minPer < 0) throw new Error(`partition: minPerShard must be a non-negative integer, got ${minPer}`);
  if (minPer * numShards > n) throw new Error(`partition: ${n} samples cannot give ${numShards} shards of at least ${minPer}`);
  const rand = seededRandom(mixSeed(opts.seed, numShards, n));
  let shards: number[][];
  if (opts.kind === 'iid') {
    const idx = shuffleInPlace(Int32Array.from({ length: n }, (_, i) => i), rand);
    shards = Array.from({ length: numShards }, () => []);
    const base = Math.floor(n / numShards);
    const extra = n % numShards;
    let at = 0;
    for (let s = 0; s < numShards; s++) {
      const len = base + (s < extra ? 1 : 0);
      for (let j = 0; j < len; j++) shards[s]!.push(idx[at++]!);
    }
  } else if (opts.kind === 'dirichlet') {
    const alpha = opts.alpha ?? 0.5;
    if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`partition: alpha must be a positive number, got ${alpha}`);
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      let list = byClass.get(c);
      if (!list) byClass.set(c, (list = []));
      list.push(i);
    }
    const classes = [...byClass.keys()].sort((a, b) => a - b);
    for (const c of classes) shuffleInPlace(byClass.get(c)!, rand);
    shards = [];
    for (let attempt = 0; attempt < 200; attempt++) {
      shards = Array.from({ length: numShards }, () => []);
      for (const c of classes) {
        const list = byClass.get(c)!;
        const p = new Float64Array(numShards);
        let sum = 0;
        for (let s = 0; s < numShards; s++) sum += p[s] = gamma(alpha, rand);
        if (!(sum > 0)) {
          p.fill(0);
          p[Math.floor(rand() * numShards)] = 1;
          sum = 1;
        }
        let cum = 0;
        let prev = 0;
        for (let s = 0; s < numShards; s++) {
          cum += p[s]!;
          const end = s === numShards - 1 ? list.length : Math.round((cum / sum) * list.length);
          for (let j = prev; j < end; j++) shards[s]!.push(list[j]!);
          prev = Math.max(prev, end);
        }
      }
      if (shards.every((s) => s.length >= minPer)) break;
    }
    // Repair: move random samples from the largest shard to any shard still short.
    for (let s = 0; s < numShards; s++) {
      while (shards[s]!.length < minPer) {
        let big = 0;
        for (let t = 1; t < numShards; t++) if (shards[t]!.length > shards[big]!.length) big = t;
        const from = shards[big]!;
        const k = Math.floor(rand() * from.length);
        shards[s]!.push(from[k]!);
        from[k] = from[from.length - 1]!;
        from.pop();
      }
    }
  } else {
    throw new Error(`partition: unknown kind '${(opts as { kind: string }).kind}' (valid: iid, dirichlet)`);
  }
  return shards.map((s) => Int32Array.from(s).sort());
}
