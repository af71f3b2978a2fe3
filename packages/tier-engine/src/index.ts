// @hsfl/tier-engine: what every tier shares (DESIGN §1): the round barrier,
// the parent and child halves of a link, concatenate/split by slices, the
// tier model on flat arrays, the aggregation seam and the sync schedule.
export { RoundBarrier, Deadline, type Phase } from './barrier.js';
export { concatSlices, splitBySlices, type Part, type Slice, type Concatenated } from './slices.js';
export { TierModel, type TopStep } from './tier-model.js';
export { aggregatorFor, fedAvgAggregator, AGGREGATORS, type Aggregator, type Copy } from './aggregator.js';
export { periodicSchedule, isFullSync, FULL_SYNC, type SyncSchedule, type SyncFlags } from './schedule.js';
export { ChildLinks, ALIVE_EVENT, type ChildLink, type ChildLinksOptions, type Hello } from './child-link.js';
export { ParentLink, type ParentLinkOptions } from './parent-link.js';
export { checkRoundDone, SampleLedger, type RoundReport } from './reports.js';
export { CapacityReporter, checkCapacityRequest, type CapacityReporterOptions, type CapacityReportInit } from './capacity.js';
export { checkPlan, planMessageLimit, headerFor } from './plan.js';
export { exitOnSignals, EXIT_GONE, type StoppableNode } from './shutdown.js';
export { checkHello, secondHelloVerdict, reconnectDelay, logsAttempt, mustReconnectItself } from './link-rules.js';
