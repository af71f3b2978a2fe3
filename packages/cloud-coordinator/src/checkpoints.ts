// What the coordinator stores of a model: the synced state a run resumes
// from (with the round's metrics, in one transaction) and the final model.
import { assembleWeights, evaluate, exportCheckpoint, modelInfo, sliceWeights, type Dataset } from '@hsfl/runtime';
import { TierModel } from '@hsfl/tier-engine';
import type { Store, SyncCheckpoint, SyncCheckpointInput } from './store/index.js';
import { codecValue } from '@hsfl/protocol';
import type { TrialConfig } from './config.js';
import type { LoopState, Plan, SyncedModel } from './run-state.js';

/** The assembled model of a synced state. */
export function assembled(s: SyncedModel): Float32Array[] {
  return assembleWeights(s.plan.model, s.plan.c1, s.plan.c2, s.deviceWeights, s.edgeWeights, s.topWeights);
}

/** A run's first plan and its seeded initial weights: the synced state of round 0. */
export function initialSynced(runId: string, trial: TrialConfig): SyncedModel {
  const plan: Plan = {
    runId, version: 1, model: trial.model, c1: trial.c1, c2: trial.c2, i1: trial.i1, i2: trial.i2, batchSize: trial.batchSize,
    lr: trial.lr, rounds: trial.rounds, evalEvery: trial.evalEvery, codec: codecValue(trial.codec), seed: trial.seed, deadlineMs: trial.deadlineMs,
    aggregator: trial.aggregator ?? 'fedavg',
  };
  const init = (a: number, b: number) => {
    const m = TierModel.create(trial.model, a, b, trial.seed);
    const w = m.getWeights();
    m.dispose();
    return w;
  };
  const L = modelInfo(trial.model).numUnits;
  return { round: 0, plan, deviceWeights: init(0, trial.c1), edgeWeights: init(trial.c1, trial.c2), topWeights: init(trial.c2, L) };
}

/** The cloud's top model holding a synced state's top weights. */
export function topModelOf(s: SyncedModel): TierModel {
  const top = TierModel.create(s.plan.model, s.plan.c2, modelInfo(s.plan.model).numUnits, s.plan.seed);
  top.setWeights(s.topWeights);
  return top;
}

/** The same assembled model cut at `plan`'s cuts: moving weights between tiers changes nothing of it. */
export function recut(s: SyncedModel, plan: Plan, round: number): SyncedModel {
  const global = assembled(s);
  const L = modelInfo(plan.model).numUnits;
  return {
    round, plan,
    deviceWeights: sliceWeights(plan.model, global, 0, plan.c1),
    edgeWeights: sliceWeights(plan.model, global, plan.c1, plan.c2),
    topWeights: sliceWeights(plan.model, global, plan.c2, L),
  };
}

export function scoreSynced(s: SyncedModel, data: Dataset): { loss: number; accuracy: number } {
  const r = evaluate(s.plan.model, assembled(s), data);
  return { loss: r.loss, accuracy: r.accuracy };
}

export function toCheckpoint(s: SyncedModel, loop: LoopState): SyncCheckpointInput {
  return {
    round: s.round, planVersion: s.plan.version, plan: s.plan, state: loop,
    deviceWeights: s.deviceWeights, edgeWeights: s.edgeWeights, topWeights: s.topWeights,
  };
}

export function fromCheckpoint(c: SyncCheckpoint): { synced: SyncedModel; loop: LoopState } {
  const plan = c.plan as Plan;
  return {
    synced: { round: c.round, plan, deviceWeights: c.deviceWeights, edgeWeights: c.edgeWeights, topWeights: c.topWeights },
    loop: c.state as LoopState,
  };
}

/** Stores the final model of a run as a tfjs Layers model (DESIGN §4c). */
export function saveFinalModel(store: Store, runId: string, s: SyncedModel, accuracy: number): void {
  const ckpt = exportCheckpoint(s.plan.model, assembled(s));
  store.saveCheckpoint({
    runId, round: s.round, kind: 'final', modelJson: ckpt.modelJson,
    weights: Buffer.from(ckpt.weightsBin.buffer, ckpt.weightsBin.byteOffset, ckpt.weightsBin.byteLength), accuracy,
  });
}
