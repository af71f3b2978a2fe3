/**
 * Convergence surrogate: predicted rounds to reach the target, in the shape
 * of the bounds of the HSFL / local-SGD family (docs/planner.md §3):
 *
 *   R(c, I) = 2 theta / (gamma * (eps - A - C * S(c, I)))
 *   S(c, I) = sum_{m in {device, edge}} 1[I_m > 1] * I_m^2 * sum_{j in tier m} G2_j
 *
 * Tier "device" holds units [0, c1), tier "edge" [c1, c2); the cloud's single
 * copy never diverges. R is Infinity when the denominator is <= 0.
 */
import { assertPlan, assertSurrogate } from './validate.js';
import type { Plan, SurrogateParams, TierCopies, UnitCost } from './types.js';

/**
 * Our defaults when nothing is calibrated (not constants from the paper):
 * theta = ln(10) ~ 2.3 (cross-entropy gap of an untrained 10-class model),
 * gamma = 0.05, eps = 0.1, A = 0.01, C = gamma^2 (divergence terms of
 * local-SGD bounds scale with gamma^2 * smoothness^2; smoothness taken as 1).
 * With these, R(no divergence) = 2 * 2.3 / (0.05 * 0.09) ~ 1022 rounds.
 */
export const DEFAULT_SURROGATE: Readonly<Omit<SurrogateParams, 'G2'>> = Object.freeze({
  theta: 2.3,
  gamma: 0.05,
  eps: 0.1,
  A: 0.01,
  C: 0.0025,
});

/**
 * Default surrogate for a model: DEFAULT_SURROGATE plus, without warm-up
 * measurements, G2 proportional to each unit's share of the parameters
 * (a squared norm adds up over parameters), summing to 1.
 */
export function defaultSurrogateParams(units: UnitCost[], overrides: Partial<SurrogateParams> = {}): SurrogateParams {
  const total = units.reduce((s, u) => s + u.paramBytes, 0);
  const G2 = units.map((u) => (total > 0 ? u.paramBytes / total : 1 / units.length));
  return { ...DEFAULT_SURROGATE, G2, ...overrides };
}

/**
 * Per-unit gradient second moments from warm-up rounds: input[r][j] is the
 * squared gradient norm of unit j in round r; returns the mean over rounds.
 */
export function estimateG2(gradNormsSquaredPerUnit: number[][]): number[] {
  const rows = gradNormsSquaredPerUnit;
  if (!Array.isArray(rows) || rows.length === 0) throw new RangeError('estimateG2 needs at least one warm-up round');
  const L = rows[0]?.length ?? 0;
  if (L === 0) throw new RangeError('estimateG2: round 0 has no units');
  const sum = new Array<number>(L).fill(0);
  rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== L) {
      throw new RangeError(`estimateG2: round ${r} has ${Array.isArray(row) ? row.length : 'no'} units, expected ${L}`);
    }
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new RangeError(`estimateG2: round ${r} unit ${j} must be a finite number >= 0, got ${v}`);
      }
      sum[j] += v;
    });
  });
  return sum.map((s) => s / rows.length);
}

/** Sum of G2 over units [from, to). */
export function sumG2(G2: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let j = from; j < to; j++) s += G2[j];
  return s;
}

/** Divergence term S(c, I) (without C). Tiers with <= 1 copy contribute 0. */
export function divergence(G2: readonly number[], plan: Plan, copies?: TierCopies): number {
  let s = 0;
  if (plan.i1 > 1 && (copies?.device ?? 2) > 1) s += plan.i1 * plan.i1 * sumG2(G2, 0, plan.c1);
  if (plan.i2 > 1 && (copies?.edge ?? 2) > 1) s += plan.i2 * plan.i2 * sumG2(G2, plan.c1, plan.c2);
  return s;
}

/** Rounds from the divergence term: 2 theta / (gamma (eps - A - C S)), Infinity if <= 0. */
export function roundsFromDivergence(p: SurrogateParams, S: number): number {
  const den = p.gamma * (p.eps - p.A - p.C * S);
  return den > 0 ? (2 * p.theta) / den : Infinity;
}

/**
 * Predicted rounds to target for `plan` on a model of L units (real-valued;
 * Infinity when the bound cannot reach eps). `copies` (devices, active edges)
 * switches off the divergence of a tier that has a single copy.
 */
export function roundsToTarget(params: SurrogateParams, plan: Plan, L: number, copies?: TierCopies): number {
  assertSurrogate(params, L);
  assertPlan(plan, L);
  return roundsFromDivergence(params, divergence(params.G2, plan, copies));
}
