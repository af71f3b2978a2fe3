import type { RoundResult } from '../run-state.js';

/** What the coordinator emits as 'round' and what the API passes on live. */
export type LiveRound = RoundResult & {
  runId: string;
  rounds: number;
  planVersion: number;
  testAccuracy?: number | null;
  testLoss?: number | null;
  wallMs: number;
};

/** The optional planner entry point the lead's coordinator may offer. */
export interface Replanner {
  replan(reason: string): unknown;
}

export function canReplan(x: unknown): x is Replanner {
  return typeof (x as { replan?: unknown } | null)?.replan === 'function';
}
