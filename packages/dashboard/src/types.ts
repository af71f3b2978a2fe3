// Shapes of the coordinator's REST API and live feed (docs/api.md).

export type Role = 'admin' | 'viewer';
export type RunStatus = 'created' | 'running' | 'paused' | 'completed' | 'failed' | 'stopped';

export interface Plan {
  runId: string;
  version: number;
  model: string;
  c1: number;
  c2: number;
  i1: number;
  i2: number;
  batchSize: number;
  lr: number;
  rounds: number;
  evalEvery: number;
}

export interface RunRow {
  id: string;
  name: string;
  status: RunStatus;
  config: Record<string, unknown>;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  finalAccuracy: number | null;
  finalLoss: number | null;
  error: string | null;
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

export interface LiveRound extends Omit<RoundMetrics, 'testAccuracy' | 'testLoss' | 'endedAt'> {
  runId: string;
  rounds: number;
  testAccuracy?: number | null;
  testLoss?: number | null;
  wallMs: number;
  endedAt: number;
}

export interface RunView {
  run: RunRow;
  active: boolean;
  paused: boolean;
  round: number;
  rounds: number | null;
  plan: Plan | null;
  last: RoundMetrics | null;
  hasModel: boolean;
}

export interface Overview {
  now: number;
  backend: string;
  host: string;
  activeRunId: string | null;
  run: RunView | null;
  replanAvailable: boolean;
  counts: { edges: number; devices: number };
}

export interface CapacitySummary {
  at: number;
  computeMsPerSample: number | null;
  fwdMsPerSample: number[];
  bwdMsPerSample: number[];
  memTotalBytes: number | null;
  memFreeBytes: number | null;
  upBytesPerSec: number | null;
  downBytesPerSec: number | null;
  rttMs: number | null;
  cpus: number | null;
  backend: string | null;
  batchSize: number | null;
}

export interface NodeView {
  id: string;
  role: 'cloud' | 'edge' | 'device';
  parentId: string | null;
  status: 'connected' | 'disconnected' | 'removed';
  backend: string | null;
  host: string | null;
  samples: number | null;
  capacity: CapacitySummary | null;
}

export interface EdgeView extends NodeView {
  devices: NodeView[];
}

export interface NodesView {
  runId: string | null;
  cloud: NodeView;
  edges: EdgeView[];
  departed: NodeView[];
  counts: { edges: number; devices: number };
}

export interface ModelView {
  name: string;
  numUnits: number;
  units: { name: string; paramBytes: number; outputBytesPerSample: number; flopsPerSample: number }[];
}

export interface PlanRow {
  runId: string;
  version: number;
  plan: Plan;
  prediction: unknown;
  reason: string;
  createdAt: number;
  appliedAtRound: number | null;
}

export interface PlanView {
  runId: string;
  active: boolean;
  current: Plan | null;
  prediction: unknown;
  reason: string | null;
  appliedAtRound: number | null;
  history: PlanRow[];
  model: ModelView | null;
  replanAvailable: boolean;
}

export interface EventRow {
  id: number;
  runId: string | null;
  at: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  kind: string;
  nodeId: string | null;
  message: string;
}
