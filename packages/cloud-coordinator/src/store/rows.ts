// The store's row types that hold no Node types: the API's view types
// (api/view-types.ts) name them, and the dashboard type-checks them as source,
// so this file imports nothing.

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
