import type { MessageOf } from '@hsfl/protocol';
import type { SubModel } from '@hsfl/runtime';
import type { TrialConfig } from './config.js';
import type { RoundMetrics } from './store/index.js';

export type Plan = NonNullable<MessageOf<'hsfl:welcome'>['plan']>;

/** The plan knobs an operator or the planner may change mid-run. */
export interface PlanChange {
  c1: number;
  c2: number;
  i1: number;
  i2: number;
}

/** Everything the coordinator holds for the run in progress. */
export interface ActiveRun {
  id: string;
  trial: TrialConfig;
  plan: Plan;
  top: SubModel;
  deviceAvg: Float32Array[];
  edgeAvg: Float32Array[];
  nextRound: number;
  /** Round at which the current plan version took effect. */
  planSince: number;
  paused: boolean;
  stopRequested: boolean;
  pendingPlan?: { change: PlanChange; reason: string; prediction: unknown };
  startedAt: number;
  lastTest?: { loss: number; accuracy: number; round: number };
  /** The planner's prediction for the plan in force, and the round from which measured rounds count against it. */
  prediction?: { planVersion: number; predictedRoundMs: number; since: number };
  recentRoundMs: number[];
  lastPlannedRound: number;
  /** A node joined or left since the last plan. */
  fleetChanged: boolean;
  /** Per-unit squared gradient norms summed over rounds (for the planner's G2). */
  gradSq: { sum: number[]; count: number[] };
}

export interface CloudRound {
  round: number;
  syncDevices: boolean;
  syncEdges: boolean;
  phase: 'collect' | 'down' | 'done';
  startedAt: number;
  phaseStartedAt: number;
  expected: Set<string>;
  acts: Map<string, { data: Float32Array; labels: Int32Array; n: number; slices: number }>;
  satOut: Set<string>;
  slices: { id: string; n: number }[];
  awaitingDone: Set<string>;
  done: Map<string, MessageOf<'hsfl:round-done'>>;
  deviceAvgs: Map<string, { ws: Float32Array[]; samples: number }>;
  edgeCopies: Map<string, { ws: Float32Array[]; samples: number }>;
  loss: number;
  correct: number;
  samples: number;
  participants: number;
  computeMs: number;
  waitMs: number;
  bytesInAtStart: number;
  bytesOutAtStart: number;
  timer?: NodeJS.Timeout;
  resolve: (m: RoundResult) => void;
}

/** What one round measured: a store row without what the loop adds (plan version, test scores, end time). */
export type RoundResult = Omit<RoundMetrics, 'planVersion' | 'testAccuracy' | 'testLoss' | 'endedAt'>;

export interface RunSummary {
  runId: string;
  status: 'completed' | 'stopped' | 'failed';
  rounds: number;
  testAccuracy: number;
  testLoss: number;
  plan: Plan;
  dbPath: string;
  wallMs: number;
}
