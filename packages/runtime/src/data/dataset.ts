/** An in-memory labelled dataset: `n` samples of `sampleShape` (NHWC for images), float32, row-major. */
export interface Dataset {
  x: Float32Array;
  y: Int32Array;
  n: number;
  sampleShape: number[];
  numClasses: number;
}

export function sampleSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Checks a dataset's internal consistency; throws with a precise message. */
export function validateDataset(d: Dataset): void {
  const ss = sampleSize(d.sampleShape);
  if (!Number.isInteger(d.n) || d.n < 0) throw new Error(`dataset: n must be a non-negative integer, got ${d.n}`);
  if (d.x.length !== d.n * ss) throw new Error(`dataset: x has ${d.x.length} values, expected n*${ss} = ${d.n * ss}`);
  if (d.y.length !== d.n) throw new Error(`dataset: y has ${d.y.length} labels, expected ${d.n}`);
  for (let i = 0; i < d.n; i++) {
    const c = d.y[i]!;
    if (c < 0 || c >= d.numClasses) throw new Error(`dataset: label ${c} at ${i} outside [0, ${d.numClasses})`);
  }
}

/** Copies the samples at `indices` (in that order) into a new dataset. */
export function subset(d: Dataset, indices: ArrayLike<number>): Dataset {
  const ss = sampleSize(d.sampleShape);
  const n = indices.length;
  const x = new Float32Array(n * ss);
  const y = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = indices[j]!;
    if (!Number.isInteger(i) || i < 0 || i >= d.n) throw new Error(`subset: index ${i} outside [0, ${d.n})`);
    x.set(d.x.subarray(i * ss, (i + 1) * ss), j * ss);
    y[j] = d.y[i]!;
  }
  return { x, y, n, sampleShape: d.sampleShape.slice(), numClasses: d.numClasses };
}
