// The contract between a format (image folders, CSV, npy) and the streaming machinery: a source lists its
// samples up front (paths or offsets, plus labels, which are cheap) and decodes only the samples it is
// asked for. Everything about batching, shuffling, splitting and prefetch lives in streaming.ts, once.

import type { DataDeclaration } from './declaration.js';
import type { LoadReport } from './report.js';

/** A sample that failed when read for a batch: its index in the source and why. */
export interface ReadFailure {
  index: number;
  reason: 'decode-failed' | 'unreadable' | 'non-numeric' | 'missing-value' | 'too-large' | 'not-an-image' | 'truncated';
  detail: string;
}

export interface SampleSource {
  readonly declaration: DataDeclaration;
  /** Shape of one decoded sample (the declaration's inputShape). */
  readonly sampleShape: readonly number[];
  readonly classNames: readonly string[];
  /** Number of samples listed (including any found bad later; see `isBad`). */
  readonly size: number;
  /** Label index of every listed sample, known without decoding it. */
  readonly labels: Int32Array;
  /** Listing counts and skips; read-time failures are added to it as they happen. */
  readonly report: LoadReport;
  /** Where sample i lives, for messages: a path, "file.csv line 12" or "x.npy row 7". */
  describe(index: number): string;
  /** True once sample i failed to decode; streams skip it from then on. */
  isBad(index: number): boolean;
  /**
   * Decodes samples `indices[k]` into `out` at float offset `slots[k] * sampleSize`. A sample that cannot be
   * decoded is not an exception: it is marked bad, recorded in the report and returned in the failures.
   * Throws only for a bug (bad arguments).
   */
  read(indices: readonly number[], slots: readonly number[], out: Float32Array): Promise<ReadFailure[]>;
}

/** Shared bookkeeping of read-time failures for the concrete sources. */
export class BadSet {
  private readonly bad = new Set<number>();
  has(i: number): boolean {
    return this.bad.has(i);
  }
  add(i: number): void {
    this.bad.add(i);
  }
  get size(): number {
    return this.bad.size;
  }
}

export function checkReadArgs(size: number, ss: number, indices: readonly number[], slots: readonly number[], out: Float32Array): void {
  if (indices.length !== slots.length) throw new Error(`read: ${indices.length} indices but ${slots.length} slots`);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const s = slots[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= size) throw new Error(`read: index ${i} outside [0, ${size})`);
    if (!Number.isInteger(s) || s < 0 || (s + 1) * ss > out.length) throw new Error(`read: slot ${s} outside the output (${out.length / ss} samples)`);
  }
}

/** Runs `fn` over items with at most `limit` in flight (bounded file reads keep memory bounded too). */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, k: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      await fn(items[k]!, k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
