// Batches from disk: the sample list (paths, offsets, labels) is in memory, pixels and values are not.
// At most `prefetch` batches are decoded ahead of the consumer, so memory is bounded by
// (prefetch + 1) x batch size samples whatever the data set's size. The shuffle is the one BatchIterator
// uses (a seeded permutation per epoch), so a streamed run sees the same batches as an in-memory one.

import type { Batch } from '../batch.js';
import type { Dataset } from '../dataset.js';
import { mixSeed, seededRandom, shuffleInPlace } from '../random.js';
import { DataError } from './errors.js';
import type { LoadReport } from './report.js';
import type { SampleSource } from './source.js';
import { countClasses, heldOutSplit, type HeldOutOptions } from './split.js';

export interface StreamStats {
  /** Batches handed to the consumer. */
  batches: number;
  /** Samples read from disk (including ones that failed to decode). */
  samplesRead: number;
  /** Most samples the stream held decoded at once (queued batches plus the one being read), not counting
   *  the batch the consumer holds. Never above max(prefetch, 1) x batchSize. */
  maxHeldSamples: number;
}

function toIndexArray(source: SampleSource, indices: ArrayLike<number> | undefined): Int32Array {
  const idx = indices ? Int32Array.from(indices) : Int32Array.from({ length: source.size }, (_, i) => i);
  for (const i of idx) if (i < 0 || i >= source.size) throw new Error(`index ${i} outside [0, ${source.size})`);
  return idx;
}

/**
 * Endless shuffled mini-batches over `indices` of a source, read from disk as needed. Same contract as
 * BatchIterator (batches of min(batchSize, indices.length), wrapping across epochs; `epoch` counts
 * completed passes), except that next() is async and samples that fail to decode are dropped for good
 * (counted in the source's report) and replaced by the next ones in the order. Call close() when done:
 * it waits for a prefetch in flight, so no file stays open.
 */
export class StreamingBatchIterator {
  private readonly ss: number;
  private readonly size: number;
  private order: Int32Array;
  private pos = 0;
  private producedEpoch = 0;
  private consumedEpoch = 0;
  private readonly queue: { batch: Batch; epoch: number }[] = [];
  private producing: Promise<void> | null = null;
  private failure: unknown = null;
  private closed = false;
  readonly stats: StreamStats = { batches: 0, samplesRead: 0, maxHeldSamples: 0 };

  constructor(
    private readonly source: SampleSource,
    private readonly indices: Int32Array,
    batchSize: number,
    private readonly seed: number,
    private readonly prefetch: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`StreamingBatchIterator: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new Error(`StreamingBatchIterator: prefetch must be a non-negative integer, got ${prefetch}`);
    if (indices.length === 0) throw new Error('StreamingBatchIterator: no indices');
    this.ss = source.sampleShape.reduce((a, b) => a * b, 1);
    this.size = Math.min(batchSize, indices.length);
    this.order = this.permutation(0);
  }

  get epoch(): number {
    return this.consumedEpoch;
  }

  get batchSize(): number {
    return this.size;
  }

  private permutation(epoch: number): Int32Array {
    return shuffleInPlace(Int32Array.from(this.indices), seededRandom(mixSeed(this.seed, epoch)));
  }

  private advanceEpoch(): void {
    this.producedEpoch++;
    this.order = this.permutation(this.producedEpoch);
    this.pos = 0;
    if (this.indices.every((i) => this.source.isBad(i))) {
      throw new DataError('empty', `every sample of this stream failed to decode (${this.indices.length} samples)`, this.source.report);
    }
  }

  /** Reads one batch: takes the next indices in the order, refilling the slots of samples that fail. */
  private async produce(): Promise<{ batch: Batch; epoch: number }> {
    const n = this.size;
    this.stats.maxHeldSamples = Math.max(this.stats.maxHeldSamples, (this.queue.length + 1) * n);
    const x = new Float32Array(n * this.ss);
    const y = new Int32Array(n);
    let free: number[] = Array.from({ length: n }, (_, j) => j);
    while (free.length > 0) {
      const take: number[] = [];
      while (take.length < free.length) {
        if (this.pos === this.order.length) this.advanceEpoch();
        const i = this.order[this.pos++]!;
        if (!this.source.isBad(i)) take.push(i);
      }
      this.stats.samplesRead += take.length;
      const failures = await this.source.read(take, free, x);
      const failed = new Set(failures.map((f) => f.index));
      const stillFree: number[] = [];
      take.forEach((i, k) => {
        if (failed.has(i)) stillFree.push(free[k]!);
        else y[free[k]!] = this.source.labels[i]!;
      });
      free = stillFree;
    }
    if (this.pos === this.order.length) this.advanceEpoch();
    return { batch: { x, y, n }, epoch: this.producedEpoch };
  }

  /** Starts producing until `target` batches are queued (one producer at a time keeps the order fixed). */
  private fill(target: number): void {
    if (this.producing || this.failure || this.closed || this.queue.length >= target) return;
    this.producing = (async () => {
      while (this.queue.length < target && !this.closed) this.queue.push(await this.produce());
    })()
      .catch((e: unknown) => {
        this.failure = e;
      })
      .finally(() => {
        this.producing = null;
      });
  }

  async next(): Promise<Batch> {
    if (this.closed) throw new Error('StreamingBatchIterator: next() after close()');
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      this.fill(1);
      await this.producing;
    }
    const item = this.queue.shift()!;
    this.consumedEpoch = item.epoch;
    this.stats.batches++;
    this.fill(this.prefetch);
    return item.batch;
  }

  /** Stops prefetching and waits for a read in flight; the iterator cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.producing;
    this.queue.length = 0;
  }
}

export interface BatchesOptions {
  batchSize: number;
  seed: number;
  /** Sample indices to draw from (default: all). */
  indices?: ArrayLike<number>;
  /** Batches decoded ahead of the consumer (default 1; 0 decodes on demand). */
  prefetch?: number;
}

export interface PassOptions {
  batchSize: number;
  /** Sample indices to read, in this order (default: all, in listing order). */
  indices?: ArrayLike<number>;
  /** Batches decoded ahead of the consumer (default 1). */
  prefetch?: number;
}

/** A labelled data set on disk, read in batches. Wraps one SampleSource (image folder, CSV, npy). */
export class StreamingDataset {
  constructor(readonly source: SampleSource) {}

  /** Samples listed (including any that later failed to decode; see classCounts for usable ones). */
  get size(): number {
    return this.source.size;
  }

  get sampleShape(): readonly number[] {
    return this.source.sampleShape;
  }

  get classNames(): readonly string[] {
    return this.source.classNames;
  }

  get numClasses(): number {
    return this.source.classNames.length;
  }

  /** Label of every listed sample (no decoding needed). */
  get labels(): Int32Array {
    return this.source.labels;
  }

  get report(): LoadReport {
    return this.source.report;
  }

  /** Usable samples per class (in classNames order) among `indices` (default all), without decoding. */
  classCounts(indices?: ArrayLike<number>): number[] {
    return countClasses(this.source.labels, this.numClasses, indices, (i) => this.source.isBad(i));
  }

  /** A seeded train / held-out split of this data set's indices (see heldOutSplit). */
  split(opts: HeldOutOptions): { train: Int32Array; heldOut: Int32Array } {
    return heldOutSplit(this.source.labels, opts);
  }

  /** Endless shuffled training batches. */
  batches(opts: BatchesOptions): StreamingBatchIterator {
    return new StreamingBatchIterator(this.source, toIndexArray(this.source, opts.indices), opts.batchSize, opts.seed, opts.prefetch ?? 1);
  }

  /**
   * One pass over `indices` in order (evaluation), in batches of up to batchSize; samples that fail to
   * decode are left out, so a batch may be short. Breaking out of the loop is safe: a read in flight is
   * awaited before the generator returns.
   */
  async *pass(opts: PassOptions): AsyncGenerator<Batch & { indices: Int32Array }> {
    const { batchSize } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`pass: batchSize must be a positive integer, got ${batchSize}`);
    const prefetch = opts.prefetch ?? 1;
    const idx = toIndexArray(this.source, opts.indices);
    const chunks: Int32Array[] = [];
    for (let a = 0; a < idx.length; a += batchSize) chunks.push(idx.subarray(a, a + batchSize));
    const pending: Promise<Batch & { indices: Int32Array }>[] = [];
    let next = 0;
    const top = (): void => {
      while (pending.length < prefetch + 1 && next < chunks.length) {
        const p = this.readChunk(chunks[next++]!);
        p.catch(() => {}); // observed below; avoids an unhandled rejection if the consumer stops early
        pending.push(p);
      }
    };
    try {
      top();
      while (pending.length > 0) {
        const b = await pending.shift()!;
        top();
        if (b.n > 0) yield b;
      }
    } finally {
      await Promise.allSettled(pending);
    }
  }

  private async readChunk(chunk: Int32Array): Promise<Batch & { indices: Int32Array }> {
    const ss = this.source.sampleShape.reduce((a, b) => a * b, 1);
    const take = Array.from(chunk).filter((i) => !this.source.isBad(i));
    const x = new Float32Array(take.length * ss);
    const failures = await this.source.read(take, take.map((_, k) => k), x);
    if (failures.length === 0) {
      return { x, y: Int32Array.from(take, (i) => this.source.labels[i]!), n: take.length, indices: Int32Array.from(take) };
    }
    // Compact: drop the failed samples' slots.
    const failed = new Set(failures.map((f) => f.index));
    const keep = take.map((i, k) => ({ i, k })).filter(({ i }) => !failed.has(i));
    const cx = new Float32Array(keep.length * ss);
    keep.forEach(({ k }, j) => cx.set(x.subarray(k * ss, (k + 1) * ss), j * ss));
    return { x: cx, y: Int32Array.from(keep, ({ i }) => this.source.labels[i]!), n: keep.length, indices: Int32Array.from(keep, ({ i }) => i) };
  }

  /**
   * Reads `indices` (default all) into memory as a Dataset, in that order, leaving out samples that fail.
   * For small sets only (a held-out set, tests): memory grows with the number of samples.
   */
  async load(indices?: ArrayLike<number>): Promise<Dataset & { indices: Int32Array }> {
    const parts: (Batch & { indices: Int32Array })[] = [];
    for await (const b of this.pass({ batchSize: 256, indices })) parts.push(b);
    const ss = this.source.sampleShape.reduce((a, b) => a * b, 1);
    const n = parts.reduce((a, b) => a + b.n, 0);
    const x = new Float32Array(n * ss);
    const y = new Int32Array(n);
    const ids = new Int32Array(n);
    let o = 0;
    for (const b of parts) {
      x.set(b.x, o * ss);
      y.set(b.y, o);
      ids.set(b.indices, o);
      o += b.n;
    }
    return { x, y, n, sampleShape: this.source.sampleShape.slice(), numClasses: this.numClasses, indices: ids };
  }
}
