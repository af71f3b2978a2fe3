/** What the coordinator emits as 'round' and what the API passes on live (defined with the other view types). */
export type { LiveRound } from './view-types.js';

/** The optional planner entry point the lead's coordinator may offer. */
export interface Replanner {
  replan(reason: string): unknown;
}

export function canReplan(x: unknown): x is Replanner {
  return typeof (x as { replan?: unknown } | null)?.replan === 'function';
}
