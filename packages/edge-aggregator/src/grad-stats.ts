import type { Plan } from '@hsfl/protocol';
import type { RoundReport } from '@hsfl/tier-engine';

/**
 * Per-unit squared gradient norms of a round for units [0, c2): the
 * sample-weighted mean of the devices' reports, then this edge's own (the
 * planner's G2 statistics, docs/planner.md).
 */
export function combineGradSq(plan: Plan, reports: readonly RoundReport[], own: readonly number[]): { start: number; values: number[] } {
  const mine = own.length === plan.c2 - plan.c1 ? [...own] : [];
  const usable = reports.filter((d) => d.gradSq.length === plan.c1 && d.gradSqStart === 0 && d.samples > 0);
  if (plan.c1 === 0 || usable.length === 0) return { start: plan.c1, values: mine };
  const total = usable.reduce((a, d) => a + d.samples, 0);
  const dev = new Array<number>(plan.c1).fill(0);
  for (const d of usable) d.gradSq.forEach((v, i) => (dev[i]! += (v * d.samples) / total));
  return { start: 0, values: mine.length ? [...dev, ...mine] : dev };
}
