import type { SampleLedger, TierModel } from '@hsfl/tier-engine';
import type { RunPlanner, RunPlannerState } from './run-planner.js';
import type { TrialConfig } from './config.js';
import type { RoundMetrics } from './store/index.js';

export type { Plan } from '@hsfl/protocol';
import type { Plan } from '@hsfl/protocol';

/** The plan knobs an operator or the planner may change mid-run. */
export interface PlanChange {
  c1: number;
  c2: number;
  i1: number;
  i2: number;
}

/** A model every tier held at once: the state after a full-sync round. */
export interface SyncedModel {
  /** The next round to run from this state. */
  round: number;
  plan: Plan;
  deviceWeights: Float32Array[];
  edgeWeights: Float32Array[];
  topWeights: Float32Array[];
}

/** The run loop's state that a checkpoint keeps besides the weights. */
export interface LoopState {
  planSince: number;
  lastTest?: { loss: number; accuracy: number; round: number };
  planner: RunPlannerState;
}

/** Everything the coordinator holds for the run in progress. */
export interface ActiveRun {
  id: string;
  trial: TrialConfig;
  plan: Plan;
  top: TierModel;
  deviceAvg: Float32Array[];
  edgeAvg: Float32Array[];
  nextRound: number;
  /** Round at which the current plan version took effect. */
  planSince: number;
  paused: boolean;
  stopRequested: boolean;
  /** The coordinator is closing: the run is interrupted, not ended. */
  closing: boolean;
  pendingPlan?: { change: PlanChange; reason: string; prediction: unknown };
  startedAt: number;
  lastTest?: { loss: number; accuracy: number; round: number };
  planner: RunPlanner;
  /** Samples the cloud observed from each edge since the device / edge tier was last averaged. */
  deviceSamples: SampleLedger;
  edgeSamples: SampleLedger;
  /** The latest model all tiers held at once (what is scored, stored and resumed from). */
  synced: SyncedModel;
  /** Whether the last round was a full sync (the live tiers equal `synced`). */
  inSync: boolean;
}

/** What one round measured: a store row without what the loop adds (plan version, test scores, end time). */
export type RoundResult = Omit<RoundMetrics, 'planVersion' | 'testAccuracy' | 'testLoss' | 'endedAt'>;

export interface RunSummary {
  runId: string;
  /** 'interrupted': the coordinator closed mid-run; the run resumes from its checkpoint when it starts again. */
  status: 'completed' | 'stopped' | 'failed' | 'interrupted';
  rounds: number;
  testAccuracy: number;
  testLoss: number;
  plan: Plan;
  dbPath: string;
  wallMs: number;
}
