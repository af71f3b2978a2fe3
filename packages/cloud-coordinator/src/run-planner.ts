// The planner's part of a run: the gradient statistics it learns from,
// its latest prediction, and when to plan again. Its state is plain data so
// that it is checkpointed with the run.
import { modelInfo, modelProfile } from '@hsfl/runtime';
import { optimize, defaultSurrogateParams, formatPlanReport, ReplanPolicy, type PlanResult, type ReplanPolicyState } from '@hsfl/planner';
import type { Plan } from '@hsfl/protocol';
import { buildTopology, type CapacitySnapshot } from './planning.js';
import type { EdgeInfo } from './fleet.js';
import type { PlanChange } from './run-state.js';

export interface RunPlannerState {
  /** Per-unit squared gradient norms summed over rounds (the planner's G2). */
  gradSq: { sum: number[]; count: number[] };
  /** When to plan again (the planner's ReplanPolicy). */
  policy?: ReplanPolicyState;
}

export interface PlanDecision {
  result: PlanResult;
  /** The plan to switch to, or undefined when the current one is kept. */
  change?: PlanChange;
  prediction: Record<string, unknown>;
}

export function initialPlannerState(model: string): RunPlannerState {
  const L = modelInfo(model).numUnits;
  return { gradSq: { sum: new Array<number>(L).fill(0), count: new Array<number>(L).fill(0) } };
}

export class RunPlanner {
  private readonly policy: ReplanPolicy;

  constructor(private readonly s: RunPlannerState, private readonly o: { warmupRounds: number; threshold: number; auto: boolean }) {
    const opts = { warmupRounds: o.warmupRounds, threshold: o.threshold };
    this.policy = s.policy ? ReplanPolicy.fromJSON(s.policy, opts) : new ReplanPolicy(opts);
  }

  /** Plain data for the run's checkpoint. */
  get state(): RunPlannerState {
    return { gradSq: this.s.gradSq, policy: this.policy.toJSON() };
  }

  fleetChanged(): void {
    this.policy.fleetChanged();
  }

  recordGradSq(start: number, values: readonly number[]): void {
    const g = this.s.gradSq;
    values.forEach((v, i) => {
      const j = start + i;
      if (j < g.sum.length && Number.isFinite(v) && v >= 0) {
        g.sum[j]! += v;
        g.count[j]! += 1;
      }
    });
  }

  /** The reason to plan again after round r, if any (the planner on, no plan change pending). */
  due(r: number, roundMs: number, plan: Plan, pending: boolean): string | undefined {
    if (!this.o.auto) return undefined;
    return this.policy.observe({ round: r, roundMs, planVersion: plan.version, i1: plan.i1, i2: plan.i2, pendingPlan: pending });
  }

  /** A planning attempt failed. */
  failed(r: number): void {
    this.policy.failed(r);
  }

  /**
   * Chooses cuts and intervals for `edges` from their measured capacity and
   * the gradient statistics so far (DESIGN §4).
   */
  plan(plan: Plan, nextRound: number, edges: EdgeInfo[], capacity: ReadonlyMap<string, CapacitySnapshot>): PlanDecision {
    const { topology, missing } = buildTopology(plan.model, plan.batchSize, { edges }, capacity);
    if (missing.length) throw new Error(`no capacity measured yet for ${missing.join(', ')}`);
    if (topology.devices.length === 0) throw new Error('no devices to plan for');
    const params = this.surrogate(plan.model);
    const result = optimize(topology, params, { minC1: 1 });
    const prediction = {
      G2: params.G2, predictedRoundMs: result.predictedRoundMs, rounds: result.rounds, objective: result.objective, breakdown: result.breakdown,
      runnersUp: result.runnersUp, report: formatPlanReport(result, topology),
    };
    const same = plan.c1 === result.plan.c1 && plan.c2 === result.plan.c2 && plan.i1 === result.plan.i1 && plan.i2 === result.plan.i2;
    if (result.predictedRoundMs > 0 && Number.isFinite(result.predictedRoundMs)) {
      this.policy.planned({ round: nextRound, planVersion: plan.version + (same ? 0 : 1), predictedRoundMs: result.predictedRoundMs, since: same ? nextRound : nextRound + 1 });
    }
    return { result, prediction, change: same ? undefined : { c1: result.plan.c1, c2: result.plan.c2, i1: result.plan.i1, i2: result.plan.i2 } };
  }

  /** The convergence surrogate: defaults, with the layer profile of the gradient second moments measured so far. */
  private surrogate(model: string) {
    const units = modelProfile(model).units.map((u) => ({ name: u.name, paramBytes: u.paramBytes, outputBytesPerSample: u.outputBytesPerSample }));
    const params = defaultSurrogateParams(units);
    const g = this.s.gradSq;
    if (g.count.every((c) => c > 0)) {
      // Only the shape across layers is measured; the scale stays the
      // calibrated one (docs/planner.md): normalise to sum 1.
      const means = g.sum.map((s, j) => s / g.count[j]!);
      const total = means.reduce((x, y) => x + y, 0);
      if (total > 0) params.G2 = means.map((v) => v / total);
    }
    return params;
  }
}
