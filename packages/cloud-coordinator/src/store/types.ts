export type RunStatus = 'created' | 'running' | 'paused' | 'completed' | 'failed' | 'stopped';
export const RUN_STATUSES: readonly RunStatus[] = ['created', 'running', 'paused', 'completed', 'failed', 'stopped'];
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'stopped'];

export interface RunRow {
  id: string;
  name: string;
  status: RunStatus;
  config: unknown /* JSON */;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  finalAccuracy: number | null;
  finalLoss: number | null;
  error: string | null;
}

export type NodeRole = 'device' | 'edge' | 'cloud';
export type NodeStatus = 'connected' | 'disconnected' | 'removed';
export const NODE_ROLES: readonly NodeRole[] = ['device', 'edge', 'cloud'];
export const NODE_STATUSES: readonly NodeStatus[] = ['connected', 'disconnected', 'removed'];

export interface NodeRow {
  runId: string;
  nodeId: string;
  role: NodeRole;
  parentId: string | null;
  backend: string | null;
  host: string | null;
  status: NodeStatus;
  samples: number | null;
  joinedAt: number;
  lastSeenAt: number;
}

export interface PlanRow {
  runId: string;
  version: number;
  plan: unknown;
  prediction: unknown | null;
  reason: string;
  createdAt: number;
  appliedAtRound: number | null;
}

export interface RoundMetrics {
  round: number;
  planVersion: number;
  samples: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy: number | null;
  testLoss: number | null;
  roundMs: number;
  deviceComputeMs: number;
  edgeComputeMs: number;
  cloudComputeMs: number;
  edgeWaitMs: number;
  cloudWaitMs: number;
  bytesDeviceEdgeUp: number;
  bytesEdgeDeviceDown: number;
  bytesEdgeCloudUp: number;
  bytesCloudEdgeDown: number;
  devices: number;
  lateDevices: number;
  syncedDevices: boolean;
  syncedEdges: boolean;
  endedAt: number;
}

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';
export const EVENT_LEVELS: readonly EventLevel[] = ['debug', 'info', 'warn', 'error'];

export interface EventRow {
  id: number;
  runId: string | null;
  at: number;
  level: EventLevel;
  kind: string;
  nodeId: string | null;
  message: string;
  data: unknown | null;
}

export interface CapacityRow {
  id: number;
  runId: string | null;
  nodeId: string;
  at: number;
  report: unknown;
}

export type CheckpointKind = 'final' | 'periodic';
export const CHECKPOINT_KINDS: readonly CheckpointKind[] = ['final', 'periodic'];

export interface CheckpointRow {
  runId: string;
  round: number;
  kind: CheckpointKind;
  modelJson: string;
  weights: Buffer;
  accuracy: number | null;
  createdAt: number;
}

/**
 * A consistent snapshot of a run taken at a round where every tier is in sync,
 * from which the coordinator can resume after a crash. `round` is the next
 * round to run (a checkpoint committed with the metrics of round r has round
 * r + 1; one saved before training has round 0). `plan` and `state` are opaque
 * JSON to the store. The weight lists are stored bit-exactly (little-endian
 * float32); a tier that holds no layers (e.g. devices with c1 = 0) has [].
 */
export interface SyncCheckpointInput {
  round: number;
  planVersion: number;
  plan: unknown;
  state: unknown;
  deviceWeights: Float32Array[];
  edgeWeights: Float32Array[];
  topWeights: Float32Array[];
}

export type SyncCheckpoint = SyncCheckpointInput & { runId: string; createdAt: number };

/** What rollbackToCheckpoint deleted, for the coordinator's log. Both ascending. */
export interface RollbackResult {
  roundsRemoved: number[];
  plansRemoved: number[];
}

export interface StoreOptions {
  /** How long a write waits for another connection's lock before failing with code BUSY. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * 'full' (default): every commit is fsynced — committed data survives a process
   * crash and a power loss. 'normal': survives a process crash; a power loss
   * may roll back the last few commits (never corrupts). Faster on slow storage.
   */
  synchronous?: 'full' | 'normal';
}
