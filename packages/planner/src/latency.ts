import { CostModel, type CutTimes } from './costs.js';
import { assertPlan, checkTopology } from './validate.js';
import type { Breakdown, Plan, Topology } from './types.js';

/** Compose the breakdown of a plan from its per-cut times and intervals. */
export function breakdownOf(t: CutTimes, i1: number, i2: number): Breakdown {
  const aggDevice = t.aggDeviceMs / i1;
  const aggEdge = t.aggEdgeMs / i2;
  return {
    deviceCompute: t.deviceFwd + t.deviceBwd,
    deviceUp: t.deviceUp,
    edgeCompute: t.edgeFwd + t.edgeBwd,
    edgeUp: t.edgeUp,
    cloudCompute: t.cloudCompute,
    edgeDown: t.edgeDown,
    deviceDown: t.deviceDown,
    aggDevice,
    aggEdge,
    total: t.pathMs + aggDevice + aggEdge,
    critical: { ...t.critical },
  };
}

/** Mean round time (ms) of a plan: critical path + amortised aggregation. */
export function roundMsOf(t: CutTimes, i1: number, i2: number): number {
  return t.pathMs + t.aggDeviceMs / i1 + t.aggEdgeMs / i2;
}

/**
 * Predicted mean round time of `plan` on `topo`, split along the critical
 * path (see docs/planner.md §2). Does not check memory: see planMemoryViolation.
 */
export function predictRound(topo: Topology, plan: Plan): Breakdown {
  const model = new CostModel(checkTopology(topo));
  assertPlan(plan, model.L);
  return breakdownOf(model.cut(plan.c1, plan.c2), plan.i1, plan.i2);
}

/**
 * The first memory constraint `plan` violates on `topo` (a readable reason),
 * or null when every device (and every edge / the cloud that reports free
 * memory) can hold its share.
 */
export function planMemoryViolation(topo: Topology, plan: Plan): string | null {
  const model = new CostModel(checkTopology(topo));
  assertPlan(plan, model.L);
  return model.memoryViolation(plan.c1, plan.c2);
}
