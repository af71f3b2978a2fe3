import { checkWeightList } from '../models/submodel.js';
import { modelSpec, rangeWeightSpecs } from '../models/zoo.js';

/**
 * Sample-weighted average of weight lists: out[i] = sum_c samples[c] * copies[c][i] / sum_c samples[c],
 * accumulated in float64. Copies with 0 samples take no part. Throws unless all copies have the same
 * structure, samples are finite and >= 0, and their sum is > 0.
 */
export function fedAvg(copies: Float32Array[][], samples: number[]): Float32Array[] {
  if (!Array.isArray(copies) || copies.length === 0) throw new Error('fedAvg: no copies');
  if (!Array.isArray(samples) || samples.length !== copies.length) {
    throw new Error(`fedAvg: ${copies.length} copies but ${Array.isArray(samples) ? samples.length : 'no'} sample counts`);
  }
  samples.forEach((s, c) => {
    if (!Number.isFinite(s) || s < 0) throw new Error(`fedAvg: sample count ${s} of copy ${c} must be finite and >= 0`);
  });
  const total = samples.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error('fedAvg: total sample count must be > 0');
  const ref = copies[0]!;
  copies.forEach((copy, c) => {
    if (!Array.isArray(copy) || copy.length !== ref.length) throw new Error(`fedAvg: copy ${c} has ${copy?.length} weights, copy 0 has ${ref.length}`);
    copy.forEach((w, i) => {
      if (!(w instanceof Float32Array) || w.length !== ref[i]!.length) {
        throw new Error(`fedAvg: weight ${i} of copy ${c} has ${w?.length} values, copy 0 has ${ref[i]!.length}`);
      }
    });
  });
  return ref.map((_, i) => {
    const acc = new Float64Array(ref[i]!.length);
    copies.forEach((copy, c) => {
      const a = samples[c]! / total;
      if (a === 0) return;
      const w = copy[i]!;
      for (let j = 0; j < w.length; j++) acc[j] += a * w[j]!;
    });
    return Float32Array.from(acc);
  });
}

/**
 * The full model's weight list from the three tiers' lists (units [0,c1), [c1,c2), [c2,L)).
 * Validates each tier's list against the model; the result holds the same Float32Array objects.
 */
export function assembleWeights(
  modelName: string,
  c1: number,
  c2: number,
  device: Float32Array[],
  edge: Float32Array[],
  cloud: Float32Array[],
): Float32Array[] {
  const L = modelSpec(modelName).units.length;
  if (!(Number.isInteger(c1) && Number.isInteger(c2) && 0 <= c1 && c1 <= c2 && c2 <= L)) {
    throw new Error(`assembleWeights: cuts (${c1}, ${c2}) must satisfy 0 <= c1 <= c2 <= ${L}`);
  }
  checkWeightList(device, rangeWeightSpecs(modelName, 0, c1), `assembleWeights device [0,${c1})`);
  checkWeightList(edge, rangeWeightSpecs(modelName, c1, c2), `assembleWeights edge [${c1},${c2})`);
  checkWeightList(cloud, rangeWeightSpecs(modelName, c2, L), `assembleWeights cloud [${c2},${L})`);
  return [...device, ...edge, ...cloud];
}

/** Splits a full-model weight list into the lists of units [start, end). */
export function sliceWeights(modelName: string, full: Float32Array[], start: number, end: number): Float32Array[] {
  const L = modelSpec(modelName).units.length;
  checkWeightList(full, rangeWeightSpecs(modelName, 0, L), `sliceWeights(${modelName})`);
  const before = rangeWeightSpecs(modelName, 0, start).length;
  return full.slice(before, before + rangeWeightSpecs(modelName, start, end).length);
}
