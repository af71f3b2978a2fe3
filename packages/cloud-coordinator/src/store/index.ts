export { Store, newRunId } from './store.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { EnrolledNode, EnrolledRole, CredentialInput } from './enrollment-store.js';
export { LATEST_SCHEMA_VERSION } from './migrations.js';
export { AUDIT_DETAIL_MAX, type AuditInput } from './audit-store.js';
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
  AuditRow,
  AuditPrincipal,
  AuditVia,
} from './types.js';
