// @hsfl/tier-engine: what every tier shares (DESIGN §1): the round barrier,
// the parent and child halves of a link, concatenate/split by slices, the
// tier model on flat arrays, the aggregation seam and the sync schedule.
export { RoundBarrier, Deadline, type Phase } from './barrier.js';
export { concatSlices, splitBySlices, type Part, type Slice, type Concatenated } from './slices.js';
export { TierModel, type TopStep } from './tier-model.js';
export { aggregatorFor, fedAvgAggregator, AGGREGATORS, type Aggregator, type Copy } from './aggregator.js';
export { periodicSchedule, isFullSync, FULL_SYNC, type SyncSchedule, type SyncFlags } from './schedule.js';
export {
  ChildLinks, ALIVE_EVENT, DEFAULT_LINK_LIMITS, DEFAULT_HELLO_TIMEOUT_MS, connectLimit, type ChildLink, type ChildLinksOptions, type Hello, type LinkLimits,
} from './child-link.js';
export { AddressLimiter, type ConnectVerdict, type AddressLimiterOptions } from './address-limiter.js';
export { PreHelloGuard, queuedBytes, type GuardCut } from './link-guard.js';
export { FailureLog, refusalReport, isRefusal, type RefusalReport } from './failure-log.js';
export { ParentLink, type ParentLinkOptions } from './parent-link.js';
export { checkRoundDone, SampleLedger, type RoundReport } from './reports.js';
export { addBounded, MAX_REMOVED_IDS } from './bounded.js';
export { CapacityReporter, checkCapacityRequest, type CapacityReporterOptions, type CapacityReportInit } from './capacity.js';
export { checkPlan, planMessageLimit, headerFor } from './plan.js';
export { exitOnSignals, EXIT_GONE, type StoppableNode } from './shutdown.js';
export { checkHello, secondHelloVerdict, reconnectDelay, logsAttempt, mustReconnectItself, addressKey, boundedHello, loggableId } from './link-rules.js';
export {
  identityUri, certificateIdentity, normalSerial, verifyChildCertificate, parentCertificateProblem,
  type CertRole, type NodeIdentity, type PeerCertificateLike, type ChildCertificateCheck,
} from './security/node-identity.js';
export { checkNodeBundle, readNodeBundle, BUNDLE_KIND, EXPIRY_WARNING_DAYS, type NodeBundle } from './security/node-bundle.js';
export { serverTlsOptions, clientTlsOptions, tlsSocketOf, verifySocketCertificate, explainConnectError, type ServerCredential, type ClientTls } from './security/tls-config.js';
export { createLinkServer, refusePlainHttp, PLAIN_HTTP_REFUSAL } from './security/tls-server.js';
export { resolveNodeSecurity, INSECURE_WARNING, type NodeSecurity, type NodeSecurityFlags } from './security/node-cli.js';
export { dataFitProblem } from './data-fit.js';
