import { sampleSize, type Dataset } from './dataset.js';
import { mixSeed, seededRandom, shuffleInPlace } from './random.js';

/**
 * Endless mini-batches over `indices` of `data`. Each epoch visits every index once in an order that is a
 * seeded shuffle of (seed, epoch), so the stream is reproducible. Batches always hold
 * min(batchSize, indices.length) samples: a batch that runs past the end of an epoch continues with the
 * start of the next one. `epoch` counts completed passes (0 until the first pass ends).
 */
export class BatchIterator {
  private readonly ss: number;
  private order: Int32Array;
  private pos = 0;
  private epoch_ = 0;
  private readonly size: number;

  constructor(
    private readonly data: Dataset,
    private readonly indices: Int32Array,
    batchSize: number,
    private readonly seed: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`BatchIterator: batchSize must be a positive integer, got ${batchSize}`);
    if (indices.length === 0) throw new Error('BatchIterator: no indices');
    for (const i of indices) if (i < 0 || i >= data.n) throw new Error(`BatchIterator: index ${i} outside [0, ${data.n})`);
    this.ss = sampleSize(data.sampleShape);
    this.size = Math.min(batchSize, indices.length);
    this.order = this.permutation(0);
  }

  get epoch(): number {
    return this.epoch_;
  }

  get batchSize(): number {
    return this.size;
  }

  private permutation(epoch: number): Int32Array {
    return shuffleInPlace(Int32Array.from(this.indices), seededRandom(mixSeed(this.seed, epoch)));
  }

  next(): { x: Float32Array; y: Int32Array; n: number } {
    const n = this.size;
    const x = new Float32Array(n * this.ss);
    const y = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      if (this.pos === this.order.length) {
        this.epoch_++;
        this.order = this.permutation(this.epoch_);
        this.pos = 0;
      }
      const i = this.order[this.pos++]!;
      x.set(this.data.x.subarray(i * this.ss, (i + 1) * this.ss), j * this.ss);
      y[j] = this.data.y[i]!;
    }
    if (this.pos === this.order.length) {
      this.epoch_++;
      this.order = this.permutation(this.epoch_);
      this.pos = 0;
    }
    return { x, y, n };
  }
}

/** One batch of flat samples, as BatchIterator yields them. */
export interface Batch {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

/** Concatenates batches along the sample axis, in the order given (what an edge or the cloud does with its children's). */
export function concatBatches(bs: readonly Batch[]): Batch {
  if (bs.length === 0) throw new Error('concatBatches needs at least one batch');
  const n = bs.reduce((a, b) => a + b.n, 0);
  const per = bs[0]!.x.length / bs[0]!.n;
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  let off = 0;
  for (const b of bs) {
    if (b.x.length !== b.n * per) throw new Error(`batch of ${b.n} samples has ${b.x.length} values, expected ${b.n * per}`);
    x.set(b.x, off * per);
    y.set(b.y, off);
    off += b.n;
  }
  return { x, y, n };
}
