// The planner's part of a run: the gradient statistics it learns from,
// its latest prediction, and when to plan again. Its state is plain data so
// that it is checkpointed with the run.
import { modelInfo, modelProfile } from '@hsfl/runtime';
import { optimize, defaultSurrogateParams, shouldReplan, formatPlanReport, type PlanResult } from '@hsfl/planner';
import type { Plan } from '@hsfl/protocol';
import { buildTopology, type CapacitySnapshot } from './planning.js';
import type { EdgeInfo } from './fleet.js';
import type { PlanChange } from './run-state.js';

export interface RunPlannerState {
  /** Per-unit squared gradient norms summed over rounds (the planner's G2). */
  gradSq: { sum: number[]; count: number[] };
  /** The prediction for the plan in force, and the round from which measured rounds count against it. */
  prediction?: { planVersion: number; predictedRoundMs: number; since: number };
  recentRoundMs: number[];
  lastPlannedRound: number;
  /** A node joined or left since the last plan. */
  fleetChanged: boolean;
}

export interface PlanDecision {
  result: PlanResult;
  /** The plan to switch to, or undefined when the current one is kept. */
  change?: PlanChange;
  prediction: Record<string, unknown>;
}

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a * b) / gcd(a, b);
}

export function initialPlannerState(model: string): RunPlannerState {
  const L = modelInfo(model).numUnits;
  return { gradSq: { sum: new Array<number>(L).fill(0), count: new Array<number>(L).fill(0) }, recentRoundMs: [], lastPlannedRound: 0, fleetChanged: false };
}

export class RunPlanner {
  constructor(readonly state: RunPlannerState, private readonly o: { warmupRounds: number; threshold: number; auto: boolean }) {}

  fleetChanged(): void {
    this.state.fleetChanged = true;
  }

  recordGradSq(start: number, values: readonly number[]): void {
    const g = this.state.gradSq;
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
    const s = this.state;
    if (!this.o.auto || pending) return undefined;
    if (r + 1 === this.o.warmupRounds) return 'after warm-up';
    if (r + 1 > this.o.warmupRounds && s.fleetChanged) return 'the fleet changed';
    const p = s.prediction;
    if (!p || plan.version !== p.planVersion || r < p.since) return undefined;
    // Sync rounds are longer than the others, and the prediction is the
    // mean over a whole aggregation cycle: compare means over whole cycles.
    const cycle = Math.min(30, lcm(plan.i1, plan.i2));
    s.recentRoundMs.push(roundMs);
    if (s.recentRoundMs.length > Math.max(3 * cycle, 12)) s.recentRoundMs.shift();
    const cycles = Math.floor(s.recentRoundMs.length / cycle);
    if (cycles < 2 || s.recentRoundMs.length < 10 || r - s.lastPlannedRound < 30) return undefined;
    const recent = s.recentRoundMs.slice(s.recentRoundMs.length - cycles * cycle);
    const means = Array.from({ length: cycles }, (_, k) => recent.slice(k * cycle, (k + 1) * cycle).reduce((x, y) => x + y, 0) / cycle);
    return shouldReplan(p.predictedRoundMs, means, this.o.threshold) ? `round time drifted from the predicted ${p.predictedRoundMs.toFixed(0)} ms` : undefined;
  }

  /** A planning attempt after warm-up failed: try again after the next round. */
  failed(r: number): void {
    if (r + 1 === this.o.warmupRounds) this.state.fleetChanged = true;
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
    const s = this.state;
    s.prediction = { planVersion: plan.version + (same ? 0 : 1), predictedRoundMs: result.predictedRoundMs, since: same ? nextRound : nextRound + 1 };
    s.lastPlannedRound = nextRound;
    s.fleetChanged = false;
    s.recentRoundMs = [];
    return { result, prediction, change: same ? undefined : { c1: result.plan.c1, c2: result.plan.c2, i1: result.plan.i1, i2: result.plan.i2 } };
  }

  /** The convergence surrogate: defaults, with the layer profile of the gradient second moments measured so far. */
  private surrogate(model: string) {
    const units = modelProfile(model).units.map((u) => ({ name: u.name, paramBytes: u.paramBytes, outputBytesPerSample: u.outputBytesPerSample }));
    const params = defaultSurrogateParams(units);
    const g = this.state.gradSq;
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
