/** Exhaustive search over every feasible cut pair and integer intervals 1..iMax. */
import { better, Problem } from './problem.js';
import type { Plan, PlannerOptions, PlanResult, PlanScore, SurrogateParams, Topology } from './types.js';

export function oracle(topo: Topology, params: SurrogateParams, opts: PlannerOptions = {}): PlanResult {
  const pb = new Problem(topo, params, opts);
  const perCut: Array<{ plan: Plan; f: number }> = [];
  for (const [c1, c2] of pb.feasibleCuts) {
    let best: Plan = { c1, c2, i1: 1, i2: 1 };
    let bestF = Infinity;
    for (let i1 = 1; i1 <= pb.iMax; i1++) {
      for (let i2 = 1; i2 <= pb.iMax; i2++) {
        const f = pb.objective(c1, c2, i1, i2);
        const cand = { c1, c2, i1, i2 };
        if (better(f, cand, bestF, best)) {
          best = cand;
          bestF = f;
        }
      }
    }
    perCut.push({ plan: best, f: bestF });
  }
  perCut.sort((a, b) => (better(a.f, a.plan, b.f, b.plan) ? -1 : better(b.f, b.plan, a.f, a.plan) ? 1 : 0));
  const runnersUp: PlanScore[] = perCut
    .slice(1)
    .filter((x) => Number.isFinite(x.f))
    .slice(0, 5)
    .map((x) => pb.score(x.plan));
  return pb.result(perCut[0].plan, runnersUp, 1);
}
