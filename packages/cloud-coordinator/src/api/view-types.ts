// The shapes the REST API and the live feed send (docs/api.md): one
// definition for the coordinator (views.ts, live.ts) and the dashboard
// (packages/dashboard/src/types.ts imports them type-only).
//
// Keep this file free of dependencies: it may import types from
// ../store/rows.ts (itself dependency-free) and nothing else, because the
// dashboard's type-check (browser lib, no node types) reads it as source.
import type { EventRow, NodeRole, NodeStatus, PlanRow, RoundMetrics, RunRow, RunStatus } from '../store/rows.js';

export type { EventRow, RoundMetrics, RunRow, RunStatus };

/** Who a caller is: `admin` may steer the federation, `viewer` may only look. */
export type Role = 'admin' | 'viewer';

/**
 * A plan as the API sends it: the protocol's Plan message (proto/hsfl.proto),
 * its codec as the enum's number. views.ts fails to compile if the protocol's
 * Plan and this differ.
 */
export interface PlanJson {
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
  codec: number;
  seed: number;
  deadlineMs: number;
  aggregator: string;
}

/** A stored plan version, its plan as sent. */
export type PlanHistoryRow = Omit<PlanRow, 'plan'> & { plan: PlanJson };

/** A capacity report reduced to the figures the dashboard shows. */
export interface CapacitySummary {
  at: number;
  /** Forward + backward ms per sample over the whole model (sum over units). */
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
  /** The stored report as received. */
  report: unknown;
}

export interface NodeView {
  id: string;
  role: NodeRole;
  parentId: string | null;
  status: NodeStatus;
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
  /** Nodes of the run that are not connected now (left or removed), from the store. */
  departed: NodeView[];
  counts: { edges: number; devices: number };
}

export interface ModelView {
  name: string;
  numUnits: number;
  units: { name: string; paramBytes: number; outputBytesPerSample: number; flopsPerSample: number }[];
}

export interface PlanView {
  runId: string;
  active: boolean;
  current: PlanJson | null;
  prediction: unknown | null;
  reason: string | null;
  appliedAtRound: number | null;
  history: PlanHistoryRow[];
  model: ModelView | null;
  replanAvailable: boolean;
}

export interface RunView {
  run: RunRow;
  active: boolean;
  paused: boolean;
  /** Next round to train (active run) or rounds recorded. */
  round: number;
  rounds: number | null;
  plan: PlanJson | null;
  last: RoundMetrics | null;
  hasModel: boolean;
}

export interface Overview {
  now: number;
  backend: string;
  host: string;
  activeRunId: string | null;
  /** The active run, else the newest one. */
  run: RunView | null;
  replanAvailable: boolean;
  counts: { edges: number; devices: number };
}

/** What the coordinator emits as 'round': a round's metrics before the store adds the end time, with the run's progress. */
export type LiveRound = Omit<RoundMetrics, 'planVersion' | 'testAccuracy' | 'testLoss' | 'endedAt'> & {
  runId: string;
  rounds: number;
  planVersion: number;
  testAccuracy?: number | null;
  testLoss?: number | null;
  wallMs: number;
};

/** What the live feed sends as 'round': a LiveRound stamped with the time it was sent. */
export type LiveRoundMessage = LiveRound & { endedAt: number };

/** GET /api/enrollment: the enrolled nodes and their state (docs/security.md). */
export interface EnrollmentView {
  /** false: the coordinator runs --insecure and nothing is enrolled. */
  secure: boolean;
  caFingerprint: string | null;
  nodes: EnrolledNodeView[];
}

export interface EnrolledNodeView {
  id: string;
  role: 'device' | 'edge';
  edge: string | null;
  enrolledAt: number;
  enrolledBy: string;
  expiresAt: number | null;
  revokedAt: number | null;
  revokedReason: string | null;
  state: 'revoked' | 'connected' | 'enrolled';
}
