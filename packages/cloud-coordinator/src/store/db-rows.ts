// The store's tables as SQLite returns their rows, and their conversion to
// the typed rows the store hands out (JSON columns parsed, flags as booleans,
// tier weights decoded).
import {
  type CapacityRow,
  type CheckpointRow,
  type EventRow,
  type NodeRow,
  type PlanRow,
  type RoundMetrics,
  type RunRow,
  type RunStatus,
  type SyncCheckpoint,
} from './types.js';
import { decodeTier, encodeTier } from './tensors.js';
import * as v from './validate.js';

export interface RunDb {
  id: string;
  name: string;
  status: RunStatus;
  config: string;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  final_accuracy: number | null;
  final_loss: number | null;
  error: string | null;
}
export interface NodeDb {
  run_id: string;
  node_id: string;
  role: NodeRow['role'];
  parent_id: string | null;
  backend: string | null;
  host: string | null;
  status: NodeRow['status'];
  samples: number | null;
  joined_at: number;
  last_seen_at: number;
}
export interface PlanDb {
  run_id: string;
  version: number;
  plan: string;
  prediction: string | null;
  reason: string;
  created_at: number;
  applied_at_round: number | null;
}
export interface MetricsDb {
  round: number;
  plan_version: number;
  samples: number;
  loss: number;
  train_accuracy: number;
  test_accuracy: number | null;
  test_loss: number | null;
  round_ms: number;
  device_compute_ms: number;
  edge_compute_ms: number;
  cloud_compute_ms: number;
  edge_wait_ms: number;
  cloud_wait_ms: number;
  bytes_device_edge_up: number;
  bytes_edge_device_down: number;
  bytes_edge_cloud_up: number;
  bytes_cloud_edge_down: number;
  devices: number;
  late_devices: number;
  synced_devices: number;
  synced_edges: number;
  ended_at: number;
}
export interface EventDb {
  id: number;
  run_id: string | null;
  at: number;
  level: EventRow['level'];
  kind: string;
  node_id: string | null;
  message: string;
  data: string | null;
}
export interface CapacityDb {
  id: number;
  run_id: string | null;
  node_id: string;
  at: number;
  report: string;
}
export interface CheckpointDb {
  run_id: string;
  round: number;
  kind: CheckpointRow['kind'];
  model_json: string;
  weights: Buffer;
  accuracy: number | null;
  created_at: number;
}

export interface SyncCheckpointDb {
  run_id: string;
  round: number;
  plan_version: number;
  plan: string;
  state: string;
  device_lengths: string;
  device_weights: Buffer;
  edge_lengths: string;
  edge_weights: Buffer;
  top_lengths: string;
  top_weights: Buffer;
  created_at: number;
}

export const runFromDb = (r: RunDb): RunRow => ({
  id: r.id,
  name: r.name,
  status: r.status,
  config: v.parseJson('run config', r.config),
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  finalAccuracy: r.final_accuracy,
  finalLoss: r.final_loss,
  error: r.error,
});
export const nodeFromDb = (r: NodeDb): NodeRow => ({
  runId: r.run_id,
  nodeId: r.node_id,
  role: r.role,
  parentId: r.parent_id,
  backend: r.backend,
  host: r.host,
  status: r.status,
  samples: r.samples,
  joinedAt: r.joined_at,
  lastSeenAt: r.last_seen_at,
});
export const planFromDb = (r: PlanDb): PlanRow => ({
  runId: r.run_id,
  version: r.version,
  plan: v.parseJson('plan', r.plan),
  prediction: v.parseJson('plan prediction', r.prediction),
  reason: r.reason,
  createdAt: r.created_at,
  appliedAtRound: r.applied_at_round,
});
export const metricsFromDb = (r: MetricsDb): RoundMetrics => ({
  round: r.round,
  planVersion: r.plan_version,
  samples: r.samples,
  loss: r.loss,
  trainAccuracy: r.train_accuracy,
  testAccuracy: r.test_accuracy,
  testLoss: r.test_loss,
  roundMs: r.round_ms,
  deviceComputeMs: r.device_compute_ms,
  edgeComputeMs: r.edge_compute_ms,
  cloudComputeMs: r.cloud_compute_ms,
  edgeWaitMs: r.edge_wait_ms,
  cloudWaitMs: r.cloud_wait_ms,
  bytesDeviceEdgeUp: r.bytes_device_edge_up,
  bytesEdgeDeviceDown: r.bytes_edge_device_down,
  bytesEdgeCloudUp: r.bytes_edge_cloud_up,
  bytesCloudEdgeDown: r.bytes_cloud_edge_down,
  devices: r.devices,
  lateDevices: r.late_devices,
  syncedDevices: r.synced_devices === 1,
  syncedEdges: r.synced_edges === 1,
  endedAt: r.ended_at,
});
export const eventFromDb = (r: EventDb): EventRow => ({
  id: r.id,
  runId: r.run_id,
  at: r.at,
  level: r.level,
  kind: r.kind,
  nodeId: r.node_id,
  message: r.message,
  data: v.parseJson('event data', r.data),
});
export const capacityFromDb = (r: CapacityDb): CapacityRow => ({
  id: r.id,
  runId: r.run_id,
  nodeId: r.node_id,
  at: r.at,
  report: v.parseJson('capacity report', r.report),
});
export const checkpointFromDb = (r: CheckpointDb): CheckpointRow => ({
  runId: r.run_id,
  round: r.round,
  kind: r.kind,
  modelJson: r.model_json,
  weights: r.weights,
  accuracy: r.accuracy,
  createdAt: r.created_at,
});

export const syncCheckpointFromDb = (r: SyncCheckpointDb): SyncCheckpoint => ({
  runId: r.run_id,
  round: r.round,
  planVersion: r.plan_version,
  plan: v.parseJson('sync checkpoint plan', r.plan),
  state: v.parseJson('sync checkpoint state', r.state),
  deviceWeights: decodeTier('device tier', r.device_lengths, r.device_weights),
  edgeWeights: decodeTier('edge tier', r.edge_lengths, r.edge_weights),
  topWeights: decodeTier('top tier', r.top_lengths, r.top_weights),
  createdAt: r.created_at,
});

/** The two columns of one tier's weights. */
export function tierColumns<T extends string>(tier: T, tensors: unknown): Record<`${T}_lengths`, string> & Record<`${T}_weights`, Buffer> {
  const { lengths, blob } = encodeTier(`${tier}Weights`, tensors);
  return { [`${tier}_lengths`]: JSON.stringify(lengths), [`${tier}_weights`]: blob } as Record<`${T}_lengths`, string> &
    Record<`${T}_weights`, Buffer>;
}

