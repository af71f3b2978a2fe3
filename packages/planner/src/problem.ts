/**
 * The planning problem shared by the optimizer and the oracle: feasible cut
 * pairs, and the objective (predicted time to target) of a plan.
 */
import { CostModel, type CutTimes } from './costs.js';
import { PlannerError } from './errors.js';
import { breakdownOf } from './latency.js';
import { roundsFromDivergence } from './surrogate.js';
import { assertSurrogate, checkTopology } from './validate.js';
import type { Plan, PlannerOptions, PlanResult, PlanScore, SurrogateParams, TierCopies, Topology } from './types.js';

export const DEFAULT_I_MAX = 20;
export const DEFAULT_MAX_ITERATIONS = 50;

export class Problem {
  readonly model: CostModel;
  readonly params: SurrogateParams;
  readonly copies: TierCopies;
  readonly L: number;
  readonly iMax: number;
  readonly minC1: number;
  readonly maxIterations: number;
  /** Cut pairs that fit in memory and respect minC1, in (c1, c2) order. */
  readonly feasibleCuts: Array<[number, number]>;
  evaluated = 0;
  private readonly g2Pre: Float64Array;

  constructor(topo: Topology, params: SurrogateParams, opts: PlannerOptions = {}) {
    this.model = new CostModel(checkTopology(topo));
    this.L = this.model.L;
    assertSurrogate(params, this.L);
    this.params = params;
    this.copies = this.model.copies();
    this.iMax = opts.iMax ?? DEFAULT_I_MAX;
    this.minC1 = opts.minC1 ?? 0;
    this.maxIterations = opts.maxIterations ?? DEFAULT_MAX_ITERATIONS;
    if (!Number.isInteger(this.iMax) || this.iMax < 1) throw new RangeError(`iMax must be an integer >= 1, got ${this.iMax}`);
    if (!Number.isInteger(this.minC1) || this.minC1 < 0 || this.minC1 > this.L) {
      throw new RangeError(`minC1 must be an integer in [0, ${this.L}], got ${this.minC1}`);
    }
    if (!Number.isInteger(this.maxIterations) || this.maxIterations < 1) {
      throw new RangeError(`maxIterations must be an integer >= 1, got ${this.maxIterations}`);
    }
    this.g2Pre = new Float64Array(this.L + 1);
    for (let j = 0; j < this.L; j++) this.g2Pre[j + 1] = this.g2Pre[j] + params.G2[j];

    this.feasibleCuts = [];
    for (let c1 = this.minC1; c1 <= this.L; c1++) {
      for (let c2 = c1; c2 <= this.L; c2++) {
        if (this.model.fitsMemory(c1, c2)) this.feasibleCuts.push([c1, c2]);
      }
    }
    if (this.feasibleCuts.length === 0) {
      const probes: Array<[number, number]> = [[this.minC1, this.minC1], [this.minC1, this.L], [this.L, this.L]];
      const seen = new Set<string>();
      const reasons: string[] = [];
      for (const [c1, c2] of probes) {
        const r = this.model.memoryViolation(c1, c2);
        if (r && !seen.has(r)) {
          seen.add(r);
          reasons.push(`c1=${c1},c2=${c2}: ${r}`);
        }
      }
      throw new PlannerError(
        `no feasible plan: no cut pair (c1 >= ${this.minC1}) fits in the nodes' free memory; e.g. ${reasons.join('; ')}`,
      );
    }
    const margin = params.eps - params.A;
    if (!(margin > 0)) {
      throw new PlannerError(
        `no feasible plan: the convergence surrogate cannot reach the target for any plan (eps=${params.eps} <= A=${params.A}); raise eps or recalibrate A`,
      );
    }
  }

  /** G2 summed over units [from, to). */
  g2(from: number, to: number): number {
    return this.g2Pre[to] - this.g2Pre[from];
  }

  /**
   * Objective at possibly non-integer intervals. on1/on2 say whether each
   * tier's divergence term is active (the indicator 1[I_m > 1], kept explicit
   * so the relaxed search can evaluate the limit I_m -> 1+).
   */
  relaxed(t: CutTimes, x1: number, x2: number, on1: boolean, on2: boolean): number {
    this.evaluated++;
    let S = 0;
    if (on1 && this.copies.device > 1) S += x1 * x1 * this.g2(0, t.c1);
    if (on2 && this.copies.edge > 1) S += x2 * x2 * this.g2(t.c1, t.c2);
    const R = roundsFromDivergence(this.params, S);
    if (R === Infinity) return Infinity;
    return R * (t.pathMs + t.aggDeviceMs / x1 + t.aggEdgeMs / x2);
  }

  /** Objective (ms to target) of an integer plan. */
  objective(c1: number, c2: number, i1: number, i2: number): number {
    return this.relaxed(this.model.cut(c1, c2), i1, i2, i1 > 1, i2 > 1);
  }

  score(plan: Plan): PlanScore {
    const t = this.model.cut(plan.c1, plan.c2);
    let S = 0;
    if (plan.i1 > 1 && this.copies.device > 1) S += plan.i1 * plan.i1 * this.g2(0, plan.c1);
    if (plan.i2 > 1 && this.copies.edge > 1) S += plan.i2 * plan.i2 * this.g2(plan.c1, plan.c2);
    const rounds = roundsFromDivergence(this.params, S);
    const predictedRoundMs = t.pathMs + t.aggDeviceMs / plan.i1 + t.aggEdgeMs / plan.i2;
    return { plan: { ...plan }, objective: rounds === Infinity ? Infinity : rounds * predictedRoundMs, predictedRoundMs, rounds };
  }

  result(best: Plan, runnersUp: PlanScore[], iterations: number): PlanResult {
    const s = this.score(best);
    return {
      ...s,
      breakdown: breakdownOf(this.model.cut(best.c1, best.c2), best.i1, best.i2),
      runnersUp,
      iterations,
      evaluated: this.evaluated,
    };
  }
}

/** Strict "a is better than b" with a deterministic tie-break on the plan. */
export function better(fa: number, a: Plan, fb: number, b: Plan): boolean {
  return fa < fb || (fa === fb && lexLess(a, b));
}

function lexLess(a: Plan, b: Plan): boolean {
  if (a.c1 !== b.c1) return a.c1 < b.c1;
  if (a.c2 !== b.c2) return a.c2 < b.c2;
  if (a.i1 !== b.i1) return a.i1 < b.i1;
  return a.i2 < b.i2;
}
