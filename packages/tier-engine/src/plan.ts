// What every tier checks and derives from a plan it is handed.
import { ProtocolError, checkBatchSize, messageLimitFor, MAX_DEVICES_PER_EDGE, type Plan } from '@hsfl/protocol';
import { modelInfo, modelSizes } from '@hsfl/runtime';
import { aggregatorFor } from './aggregator.js';

/** Refuses a plan whose model, cuts, batch size or aggregator this node cannot follow. */
export function checkPlan(plan: Plan | null | undefined): Plan {
  if (!plan) throw new ProtocolError('malformed', 'welcome without a plan');
  let units: number;
  try {
    units = modelInfo(plan.model).numUnits;
  } catch {
    throw new ProtocolError('malformed', `unknown model ${JSON.stringify(plan.model)}`);
  }
  if (!(plan.c1 <= plan.c2 && plan.c2 <= units)) throw new ProtocolError('bad_shape', `cuts (${plan.c1}, ${plan.c2}) do not fit ${plan.model}`);
  checkBatchSize(plan.batchSize);
  if (!Number.isFinite(plan.lr) || plan.lr < 0) throw new ProtocolError('malformed', `learning rate ${plan.lr} is not a finite number >= 0`);
  aggregatorFor(plan.aggregator);
  return plan;
}

/** Largest message a node accepts under `plan` (docs/protocol.md, Limits); `floor` before any plan is known. */
export function planMessageLimit(plan: Plan | undefined, transport: number, floor: number): number {
  if (!plan) return Math.min(transport, floor);
  return Math.min(transport, messageLimitFor({ batchSize: plan.batchSize, devices: MAX_DEVICES_PER_EDGE, ...modelSizes(plan.model, plan) }));
}

/** The header of a message about `round` under `plan`. */
export function headerFor(plan: Plan, round: number, sender: string) {
  return { runId: plan.runId, planVersion: plan.version, round, sender };
}
