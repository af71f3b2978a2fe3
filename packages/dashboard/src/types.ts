// Shapes of the coordinator's REST API and live feed (docs/api.md), as the
// API defines them: a type-only import of the coordinator's dependency-free
// api/view-types.ts (and the store rows it names, store/rows.ts), erased from the
// bundle, so the dashboard has no build dependency on the coordinator.

export type {
  CapacitySummary,
  EdgeView,
  EnrolledNodeView,
  EnrollmentView,
  EventRow,
  ModelView,
  NodesView,
  NodeView,
  Overview,
  PlanHistoryRow as PlanRow,
  PlanJson as Plan,
  PlanView,
  Role,
  RoundMetrics,
  RunRow,
  RunStatus,
  RunView,
} from '../../cloud-coordinator/src/api/view-types.js';
// What the live feed's 'round' carries.
export type { LiveRoundMessage as LiveRound } from '../../cloud-coordinator/src/api/view-types.js';
