// Where a device's training batches come from: the in-memory MNIST digits (a Dataset and the indices this
// device owns) or its own data on disk (a StreamingDataset read in batches). The agent sees only
// BatchSource, so its round logic is the same for both.
import { BatchIterator, type Batch, type Dataset, type StreamingDataset } from '@hsfl/runtime';

/** Endless training batches of one size; next() may be synchronous (memory) or not (disk). */
export interface BatchStream {
  next(): Promise<Batch> | Batch;
  /** Releases what the stream holds (a prefetch in flight); the stream is not used afterwards. */
  close?(): Promise<void> | void;
}

/** A device's training data as the agent needs it. */
export interface BatchSource {
  /** One sample's shape and the class count (the hello declares them; the edge checks they fit the model). */
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  /** Samples this device trains on (the hello's numSamples). */
  readonly size: number;
  /** A stream of batches of `batchSize` (the plan's; a new plan may ask for another size). */
  batches(batchSize: number): BatchStream;
}

/** The in-memory source: `indices` of `data`, shuffled per epoch from `seed` (BatchIterator). */
export function memoryBatchSource(data: Dataset, indices: Int32Array, seed: number): BatchSource {
  return {
    sampleShape: data.sampleShape,
    numClasses: data.numClasses,
    size: indices.length,
    batches: (batchSize) => new BatchIterator(data, indices, batchSize, seed),
  };
}

/**
 * The on-disk source: `indices` (default all) of a local data set, read in batches with `prefetch`
 * batches decoded ahead (default 1: the next round's batch is read while this one trains). The shuffle
 * is BatchIterator's, so the same indices and seed give the same batches as the in-memory source.
 * `size` counts the usable samples at opening (files found bad at listing are not counted).
 */
export function streamingBatchSource(dataset: StreamingDataset, opts: { seed: number; indices?: Int32Array; prefetch?: number }): BatchSource {
  const size = dataset.classCounts(opts.indices).reduce((a, b) => a + b, 0);
  return {
    sampleShape: dataset.sampleShape,
    numClasses: dataset.numClasses,
    size,
    batches: (batchSize) => dataset.batches({ batchSize, seed: opts.seed, indices: opts.indices, prefetch: opts.prefetch ?? 1 }),
  };
}
