import { MAX_BATCH_SIZE } from '@hsfl/protocol';
import { AGGREGATORS } from '@hsfl/tier-engine';

/** What a training run is asked to do: the trial description and its plan knobs. */
export interface TrialConfig {
  name: string;
  model: string;
  c1: number;
  c2: number;
  i1: number;
  i2: number;
  batchSize: number;
  lr: number;
  rounds: number;
  evalEvery: number;
  seed: number;
  deadlineMs: number;
  codec: 'raw' | 'fp16' | 'int8';
  minEdges: number;
  minDevices: number;
  joinTimeoutMs: number;
  /** Stop early once the assembled model's test accuracy reaches this. */
  targetAccuracy?: number;
  /**
   * 'auto': the planner chooses cuts and intervals after the warm-up rounds
   * (which run the configured c1, c2, i1, i2) and re-plans when the fleet
   * changes or round times drift; 'off': the configured plan throughout.
   */
  planner: 'off' | 'auto';
  warmupRounds: number;
  /** Re-plan when the median measured round time is off the prediction by more than this fraction. */
  replanThreshold: number;
  /** How copies of a tier are combined at a sync (the tier engine's registry; default 'fedavg'). */
  aggregator?: string;
}

export const DEFAULT_TRIAL: TrialConfig = {
  name: 'mnist-trial',
  model: 'cnn-mnist',
  c1: 2,
  c2: 5,
  i1: 2,
  i2: 4,
  batchSize: 32,
  lr: 0.1,
  rounds: 300,
  evalEvery: 20,
  seed: 1,
  deadlineMs: 30000,
  codec: 'raw',
  minEdges: 1,
  minDevices: 1,
  joinTimeoutMs: 120000,
  planner: 'off',
  warmupRounds: 10,
  replanThreshold: 0.25,
};

const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

/** Returns the problems of a trial description, one readable line each. */
export function trialProblems(t: TrialConfig, numUnits?: number): string[] {
  const p: string[] = [];
  if (!t.name || typeof t.name !== 'string') p.push('name must be a non-empty string');
  if (!int(t.c1) || t.c1 < 0) p.push(`c1 must be a whole number >= 0 (got ${t.c1})`);
  if (!int(t.c2) || t.c2 < t.c1) p.push(`c2 must be a whole number >= c1 (got c1=${t.c1}, c2=${t.c2})`);
  if (numUnits !== undefined && t.c2 > numUnits) p.push(`c2 must be <= ${numUnits}, the number of units of ${t.model} (got ${t.c2})`);
  for (const k of ['i1', 'i2', 'batchSize', 'rounds', 'minEdges'] as const) {
    if (!int(t[k]) || t[k] < 1) p.push(`${k} must be a whole number >= 1 (got ${t[k]})`);
  }
  if (t.batchSize > MAX_BATCH_SIZE) p.push(`batchSize must be <= ${MAX_BATCH_SIZE} (got ${t.batchSize})`);
  if (!int(t.minDevices) || t.minDevices < 0) p.push(`minDevices must be a whole number >= 0 (got ${t.minDevices})`);
  if (!int(t.evalEvery) || t.evalEvery < 0) p.push(`evalEvery must be a whole number >= 0 (got ${t.evalEvery})`);
  if (!int(t.seed) || t.seed < 0 || t.seed > 0xffffffff) p.push(`seed must be a whole number in [0, 2^32) (got ${t.seed})`);
  if (!(typeof t.lr === 'number' && Number.isFinite(t.lr) && t.lr > 0 && t.lr <= 10)) p.push(`lr must be a number in (0, 10] (got ${t.lr})`);
  if (!int(t.deadlineMs) || t.deadlineMs < 100) p.push(`deadlineMs must be a whole number >= 100 (got ${t.deadlineMs})`);
  if (!int(t.joinTimeoutMs) || t.joinTimeoutMs < 1) p.push(`joinTimeoutMs must be a whole number >= 1 (got ${t.joinTimeoutMs})`);
  if (!['raw', 'fp16', 'int8'].includes(t.codec)) p.push(`codec must be raw, fp16 or int8 (got ${t.codec})`);
  if (t.planner !== undefined && !['off', 'auto'].includes(t.planner)) p.push(`planner must be off or auto (got ${t.planner})`);
  if (t.warmupRounds !== undefined && (!int(t.warmupRounds) || t.warmupRounds < 1)) p.push(`warmupRounds must be a whole number >= 1 (got ${t.warmupRounds})`);
  if (t.replanThreshold !== undefined && !(t.replanThreshold > 0 && t.replanThreshold < 10)) p.push(`replanThreshold must be in (0, 10) (got ${t.replanThreshold})`);
  if (t.aggregator !== undefined && !AGGREGATORS.includes(t.aggregator)) p.push(`aggregator must be one of ${AGGREGATORS.join(', ')} (got ${t.aggregator})`);
  if (t.targetAccuracy !== undefined && !(t.targetAccuracy > 0 && t.targetAccuracy <= 1)) p.push(`targetAccuracy must be in (0, 1] (got ${t.targetAccuracy})`);
  return p;
}

/** Problems of a plan change asked for mid-run (cuts of a model of numUnits units, intervals), one line each. */
export function planChangeProblems(change: { c1: number; c2: number; i1: number; i2: number }, numUnits: number): string[] {
  const p: string[] = [];
  if (!int(change.c1) || !int(change.c2) || change.c1 < 0 || change.c1 > change.c2 || change.c2 > numUnits) {
    p.push(`cuts must satisfy 0 <= c1 <= c2 <= ${numUnits}; got c1=${change.c1}, c2=${change.c2}`);
  }
  if (!int(change.i1) || !int(change.i2) || change.i1 < 1 || change.i2 < 1 || change.i1 > 1000 || change.i2 > 1000) {
    p.push(`intervals must be whole numbers in [1, 1000]; got i1=${change.i1}, i2=${change.i2}`);
  }
  return p;
}
