/**
 * Block-coordinate descent over (cuts, intervals), after the paper's
 * iterative descending algorithm (docs/planner.md §4):
 *   MS step: best feasible (c1, c2) for the current (I1, I2), exhaustive O(L^2);
 *   MA step: for the current cuts, relax I1, I2 to reals in [1, iMax], minimise
 *            by alternating golden-section searches, then take the best integer
 *            neighbour (floor/ceil combinations, then +-1 moves);
 * repeated until the objective stops falling, from several deterministic
 * starts (5 cut pairs with MA first, 9 interval pairs on a coarse grid with MS
 * first); finally the 10 most promising other cut pairs are re-optimised and,
 * if one beats the incumbent, descent restarts from it.
 */
import { goldenMin } from './golden.js';
import { better, Problem } from './problem.js';
import type { Plan, PlannerOptions, PlanResult, PlanScore, SurrogateParams, Topology } from './types.js';

const RUNNERS_UP = 5;
const RUNNER_UP_CANDIDATES = 10;
const REL_TOL = 1e-9;

export function optimize(topo: Topology, params: SurrogateParams, opts: PlannerOptions = {}): PlanResult {
  const pb = new Problem(topo, params, opts);
  let iterations = 0;

  const descend = (start: Plan, msFirst: boolean): { plan: Plan; f: number } => {
    let plan = { ...start };
    let f = pb.objective(plan.c1, plan.c2, plan.i1, plan.i2);
    for (let it = 0; it < pb.maxIterations; it++) {
      iterations++;
      const before = f;
      if (msFirst) {
        plan = msStep(pb, plan);
        plan = maStep(pb, plan);
      } else {
        plan = maStep(pb, plan);
        plan = msStep(pb, plan);
      }
      f = pb.objective(plan.c1, plan.c2, plan.i1, plan.i2);
      if (!(f < before * (1 - REL_TOL))) break; // stopped falling
    }
    return { plan, f };
  };

  let best: { plan: Plan; f: number } | null = null;
  const consider = (r: { plan: Plan; f: number }) => {
    if (!best || better(r.f, r.plan, best.f, best.plan)) best = r;
  };
  for (const start of starts(pb)) consider(descend(start.plan, start.msFirst));

  // Re-optimise the next best cut pairs; adopt any that beats the incumbent.
  let runnersUp: PlanScore[] = [];
  for (let round = 0; round < 10; round++) {
    const incumbent: { plan: Plan; f: number } = best!;
    runnersUp = rankedAlternatives(pb, incumbent.plan);
    const top = runnersUp[0];
    if (top && better(top.objective, top.plan, incumbent.f, incumbent.plan)) {
      consider(descend(top.plan, false));
      continue;
    }
    break;
  }
  return pb.result(best!.plan, runnersUp.slice(0, RUNNERS_UP), iterations);
}

/** Starting points: corner/interior cut pairs (MA first) and interval pairs (MS first). */
function starts(pb: Problem): Array<{ plan: Plan; msFirst: boolean }> {
  const { L, minC1, iMax } = pb;
  const lo = Math.max(minC1, 0);
  const cutSeeds: Array<[number, number]> = [
    [lo, lo], [lo, L], [L, L],
    [Math.max(lo, Math.floor(L / 3)), Math.max(lo, Math.floor((2 * L) / 3))],
    [Math.max(lo, Math.floor(L / 2)), Math.max(lo, Math.floor(L / 2))],
  ];
  const out: Array<{ plan: Plan; msFirst: boolean }> = [];
  const seen = new Set<string>();
  for (const [a, b] of cutSeeds) {
    const [c1, c2] = nearestFeasible(pb, a, b);
    const key = `${c1},${c2}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ plan: { c1, c2, i1: 1, i2: 1 }, msFirst: false });
  }
  const [c1, c2] = pb.feasibleCuts[0];
  for (const i1 of coarseIntervals(iMax)) {
    for (const i2 of coarseIntervals(iMax)) out.push({ plan: { c1, c2, i1, i2 }, msFirst: true });
  }
  return out;
}

/** A coarse interval grid {1, ~sqrt(iMax), iMax} used for starts and for ranking cuts. */
function coarseIntervals(iMax: number): number[] {
  return [...new Set([1, Math.min(iMax, Math.max(1, Math.round(Math.sqrt(iMax)))), iMax])];
}

function nearestFeasible(pb: Problem, a: number, b: number): [number, number] {
  let best = pb.feasibleCuts[0];
  let bestD = Infinity;
  for (const cut of pb.feasibleCuts) {
    const d = Math.abs(cut[0] - a) + Math.abs(cut[1] - b);
    if (d < bestD) {
      bestD = d;
      best = cut;
    }
  }
  return best;
}

/** MS step: best feasible cut pair for the plan's intervals (current cuts included). */
export function msStep(pb: Problem, plan: Plan): Plan {
  let best = { ...plan };
  let bestF = pb.objective(plan.c1, plan.c2, plan.i1, plan.i2);
  for (const [c1, c2] of pb.feasibleCuts) {
    const f = pb.objective(c1, c2, plan.i1, plan.i2);
    const cand = { c1, c2, i1: plan.i1, i2: plan.i2 };
    if (better(f, cand, bestF, best)) {
      best = cand;
      bestF = f;
    }
  }
  return best;
}

/** MA step: best integer intervals for the plan's cuts (current intervals included). */
export function maStep(pb: Problem, plan: Plan): Plan {
  const { iMax } = pb;
  const t = pb.model.cut(plan.c1, plan.c2);
  // A tier whose interval changes nothing (no traffic, no divergence) stays at 1.
  const active1 = t.aggDeviceMs > 0 || (pb.copies.device > 1 && pb.g2(0, plan.c1) > 0 && pb.params.C > 0);
  const active2 = t.aggEdgeMs > 0 || (pb.copies.edge > 1 && pb.g2(plan.c1, plan.c2) > 0 && pb.params.C > 0);

  // Relaxed problem: alternate exact 1-D minimisations (I_m = 1, or golden
  // section on the smooth branch I_m in (1, iMax]) until the point settles.
  let x1 = active1 ? Math.min(plan.i1, iMax) : 1;
  let x2 = active2 ? Math.min(plan.i2, iMax) : 1;
  for (let sweep = 0; sweep < 30; sweep++) {
    const p1 = x1;
    const p2 = x2;
    if (active1 && iMax > 1) {
      const at1 = pb.relaxed(t, 1, x2, false, x2 > 1);
      const g = goldenMin((x) => pb.relaxed(t, x, x2, true, x2 > 1), 1, iMax);
      x1 = g.fx < at1 ? g.x : 1;
    }
    if (active2 && iMax > 1) {
      const at1 = pb.relaxed(t, x1, 1, x1 > 1, false);
      const g = goldenMin((x) => pb.relaxed(t, x1, x, x1 > 1, true), 1, iMax);
      x2 = g.fx < at1 ? g.x : 1;
    }
    if (Math.abs(x1 - p1) < 1e-6 && Math.abs(x2 - p2) < 1e-6) break;
  }

  // Integer neighbours of the relaxed optimum (and the current plan).
  const clamp = (v: number) => Math.min(iMax, Math.max(1, v));
  const n1 = [...new Set([Math.floor(x1), Math.ceil(x1)].map(clamp))];
  const n2 = [...new Set([Math.floor(x2), Math.ceil(x2)].map(clamp))];
  let best = { ...plan };
  let bestF = pb.objective(plan.c1, plan.c2, plan.i1, plan.i2);
  const tryPlan = (i1: number, i2: number): boolean => {
    const cand = { c1: plan.c1, c2: plan.c2, i1, i2 };
    const f = pb.objective(plan.c1, plan.c2, i1, i2);
    if (better(f, cand, bestF, best)) {
      best = cand;
      bestF = f;
      return true;
    }
    return false;
  };
  for (const a of n1) for (const b of n2) tryPlan(a, b);
  // Integer polish: +-1 moves per coordinate while they help.
  for (let moved = true, k = 0; moved && k < 4 * iMax; k++) {
    moved = false;
    const { i1, i2 } = best;
    for (const [a, b] of [[i1 - 1, i2], [i1 + 1, i2], [i1, i2 - 1], [i1, i2 + 1]] as const) {
      if (a >= 1 && a <= iMax && b >= 1 && b <= iMax && tryPlan(a, b)) moved = true;
    }
  }
  return best;
}

/**
 * Best plans (MA-optimised) of the cut pairs ranked next after the chosen one.
 * Cut pairs are ranked by their best objective over the coarse interval grid
 * and the chosen intervals, so a cut pair that only pays off with very
 * different intervals is not missed.
 */
function rankedAlternatives(pb: Problem, chosen: Plan): PlanScore[] {
  const grid = coarseIntervals(pb.iMax);
  const pairs: Array<[number, number]> = [[chosen.i1, chosen.i2]];
  for (const a of grid) for (const b of grid) pairs.push([a, b]);
  const ranked = pb.feasibleCuts
    .filter(([c1, c2]) => c1 !== chosen.c1 || c2 !== chosen.c2)
    .map(([c1, c2]) => {
      let f = Infinity;
      let at: [number, number] = [chosen.i1, chosen.i2];
      for (const [i1, i2] of pairs) {
        const v = pb.objective(c1, c2, i1, i2);
        if (v < f) {
          f = v;
          at = [i1, i2];
        }
      }
      return { c1, c2, f, at };
    })
    .sort((a, b) => a.f - b.f || a.c1 - b.c1 || a.c2 - b.c2)
    .slice(0, RUNNER_UP_CANDIDATES);
  return ranked
    .map(({ c1, c2, at }) => pb.score(maStep(pb, { c1, c2, i1: at[0], i2: at[1] })))
    .filter((s) => Number.isFinite(s.objective))
    .sort((a, b) => a.objective - b.objective || a.plan.c1 - b.plan.c1 || a.plan.c2 - b.plan.c2);
}
