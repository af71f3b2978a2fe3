import { type ModelSpec, modelSpec, rangeWeightSpecs, specOutputShape, specRangeWeightSpecs } from './zoo.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Weight shapes of units [start, end), in the order SubModel.getWeights() lists them. */
export function tierWeightShapes(model: string, start: number, end: number): number[][] {
  return rangeWeightSpecs(model, start, end).map((s) => [...s.shape]);
}

/**
 * The sizes that bound a model's messages: the largest activation per sample
 * that crosses a link (at the plan's cuts, or at any unit boundary), and the
 * element count of all its weights.
 */
export interface ModelSizes {
  maxActivationElementsPerSample: number;
  weightElements: number;
}

// Roles ask for these on every received message (to bound its size); they
// depend only on the model and the cuts, so they are computed once per spec
// (a model registered again under the same name is a new spec).
const sizesCache = new WeakMap<ModelSpec, Map<string, Readonly<ModelSizes>>>();

export function modelSizes(model: string, cuts?: { c1: number; c2: number }): ModelSizes {
  const m = modelSpec(model);
  let perSpec = sizesCache.get(m);
  if (!perSpec) sizesCache.set(m, (perSpec = new Map()));
  const key = cuts ? `${cuts.c1}:${cuts.c2}` : '';
  let hit = perSpec.get(key);
  if (!hit) {
    hit = computeModelSizes(m, cuts);
    perSpec.set(key, hit);
  }
  return { ...hit };
}

function computeModelSizes(m: ModelSpec, cuts?: { c1: number; c2: number }): ModelSizes {
  const L = m.units.length;
  let maxAct = 0;
  const boundaries = cuts ? [cuts.c1, cuts.c2] : Array.from({ length: L + 1 }, (_, k) => k);
  for (const k of boundaries) maxAct = Math.max(maxAct, prod(specOutputShape(m, k)));
  const weightElements = specRangeWeightSpecs(m, 0, L).reduce((a, s) => a + prod(s.shape), 0);
  return { maxActivationElementsPerSample: maxAct, weightElements };
}
