export type {
  Breakdown, CloudNode, ComputeProfile, CriticalPath, DeviceNode, EdgeNode, LinkProfile, ModelProfile, Plan,
  PlannerOptions, PlanResult, PlanScore, SurrogateParams, TierCopies, Topology, UnitCost,
} from './types.js';
export { PlannerError, TopologyError } from './errors.js';
export { topologyFromJson, checkTopology } from './validate.js';
export { predictRound, planMemoryViolation } from './latency.js';
export {
  DEFAULT_SURROGATE, defaultSurrogateParams, divergence, estimateG2, roundsToTarget,
} from './surrogate.js';
export { calibrate } from './calibrate.js';
export type { CalibrateOptions, CalibrationResult, RoundsObservation } from './calibrate.js';
export { optimize } from './optimize.js';
export { oracle } from './oracle.js';
export { DEFAULT_I_MAX } from './problem.js';
export { formatPlanReport, formatMs } from './report.js';
export { shouldReplan } from './drift.js';
export { randomTopology, randomSurrogate, mulberry32 } from './testing/random.js';
export { ReplanPolicy, REPLAN_MIN_SPACING, aggregationCycle, gcd, lcm } from './replan-policy.js';
export type { ObservedRound, ReplanPolicyOptions, ReplanPolicyState, ReplanPrediction } from './replan-policy.js';
