export { Store, newRunId } from './store.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { EnrolledNode, EnrolledRole, CredentialInput } from './enrollment-store.js';
export { LATEST_SCHEMA_VERSION } from './migrations.js';
export type {
  RunStatus,
  RunRow,
  NodeRole,
  NodeStatus,
  NodeRow,
  PlanRow,
  RoundMetrics,
  EventLevel,
  EventRow,
  CapacityRow,
  CheckpointKind,
  CheckpointRow,
  SyncCheckpointInput,
  SyncCheckpoint,
  RollbackResult,
  StoreOptions,
} from './types.js';
