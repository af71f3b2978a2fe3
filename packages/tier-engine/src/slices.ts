// Concatenate children's batches in a fixed order (by id) and split the
// gradient of the concatenation back by the same slices.
import { concatBatches } from '@hsfl/runtime';

export interface Part {
  id: string;
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export interface Slice {
  id: string;
  n: number;
  /** First sample of this slice in the concatenation. */
  offset: number;
}

export interface Concatenated {
  x: Float32Array;
  y: Int32Array;
  n: number;
  slices: Slice[];
}

/** Concatenates parts sorted by id; the order every tier and every test uses. */
export function concatSlices(parts: readonly Part[]): Concatenated {
  const sorted = [...parts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const { x, y, n } = concatBatches(sorted);
  let offset = 0;
  const slices = sorted.map((p) => {
    const s = { id: p.id, n: p.n, offset };
    offset += p.n;
    return s;
  });
  return { x, y, n, slices };
}

/** Each slice's rows of `data` ([total, ...] with `perSample` values a row), without copying. */
export function splitBySlices(data: Float32Array, perSample: number, slices: readonly Slice[]): Map<string, Float32Array> {
  const total = slices.reduce((a, s) => a + s.n, 0);
  if (data.length !== total * perSample) throw new Error(`gradient has ${data.length} values; ${total} samples x ${perSample} expected`);
  return new Map(slices.map((s) => [s.id, data.subarray(s.offset * perSample, (s.offset + s.n) * perSample)]));
}
