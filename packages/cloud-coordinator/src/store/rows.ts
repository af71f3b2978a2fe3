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

export type AuditPrincipal = 'admin' | 'viewer' | 'anonymous';
/** How the caller proved who it is: a bearer token, a session cookie, or the token in a login body. */
export type AuditVia = 'bearer' | 'session' | 'login';
export const AUDIT_PRINCIPALS: readonly AuditPrincipal[] = ['admin', 'viewer', 'anonymous'];
export const AUDIT_VIAS: readonly AuditVia[] = ['bearer', 'session', 'login'];

/** One operator action (or a run of identical refused attempts, `count` of them between `at` and `lastAt`). */
export interface AuditRow {
  id: number;
  at: number;
  lastAt: number;
  count: number;
  principal: AuditPrincipal;
  via: AuditVia | null;
  /** The client's address (the socket's, or the one a trusted proxy forwarded); '*' for many addresses folded together. */
  address: string;
  /** What was asked, e.g. run_created, run_stopped, node_removed, login, login_failed. */
  action: string;
  method: string;
  /** The route pattern, e.g. /api/runs/:id/stop. */
  route: string;
  /** The run or node the action was about. */
  target: string | null;
  /** The HTTP status the API answered. */
  status: number;
  detail: string | null;
}
