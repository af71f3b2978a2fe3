/**
 * Planner data model. Everything here is JSON-serialisable so that a topology
 * can be stored, sent over the wire and replayed in tests.
 *
 * Units are indexed 0..L-1 from the input. A plan's cuts 0 <= c1 <= c2 <= L
 * give devices [0, c1), edges [c1, c2) and the cloud [c2, L).
 */

/** Static cost of one model unit (layer or block). */
export interface UnitCost {
  name: string;
  /** Bytes of this unit's trainable parameters (as sent on the wire). */
  paramBytes: number;
  /** Bytes of this unit's output activation for one sample. */
  outputBytesPerSample: number;
  /** Informational; the latency model uses measured per-node times instead. */
  flopsPerSample?: number;
}

/** Per-unit compute times measured on one node (ms per sample). */
export interface ComputeProfile {
  fwdMsPerSample: number[];
  bwdMsPerSample: number[];
}

/** A node's link to its parent (device -> edge, edge -> cloud). */
export interface LinkProfile {
  /** Child -> parent throughput. */
  upBytesPerSec: number;
  /** Parent -> child throughput. */
  downBytesPerSec: number;
  /** Round-trip time; one message costs rttMs / 2 of latency. */
  rttMs: number;
}

export interface DeviceNode {
  id: string;
  edgeId: string;
  compute: ComputeProfile;
  /** Link to its edge. */
  link: LinkProfile;
  memFreeBytes: number;
  /** Local data-set size (FedAvg weight; informational for the planner). */
  samples?: number;
}

export interface EdgeNode {
  id: string;
  compute: ComputeProfile;
  /** Link to the cloud. */
  link: LinkProfile;
  /** When given, a hard memory constraint on the edge sub-model. */
  memFreeBytes?: number;
}

export interface CloudNode {
  compute: ComputeProfile;
  /** When given, a hard memory constraint on the cloud sub-model. */
  memFreeBytes?: number;
}

export interface ModelProfile {
  name?: string;
  inputBytesPerSample: number;
  labelBytesPerSample: number;
  units: UnitCost[];
  /** Training memory per unit per sample (activations + their gradients). */
  memPerSampleBytes?: number[];
}

export interface Topology {
  model: ModelProfile;
  /** Mini-batch size b of every device. */
  batchSize: number;
  devices: DeviceNode[];
  edges: EdgeNode[];
  cloud: CloudNode;
}

/** Constants of the convergence surrogate (see docs/planner.md). */
export interface SurrogateParams {
  /** Initial optimality gap F(w0) - F*. */
  theta: number;
  /** Learning rate. */
  gamma: number;
  /** Target (bound on the mean squared gradient norm). */
  eps: number;
  /** Aggregation-independent error floor (noise / heterogeneity). */
  A: number;
  /** Weight of the model-divergence term. */
  C: number;
  /** Per-unit gradient second moments G_j^2, length L. */
  G2: number[];
}

export interface Plan {
  c1: number;
  c2: number;
  /** Device-tier aggregation interval (rounds). */
  i1: number;
  /** Edge-tier aggregation interval (rounds). */
  i2: number;
}

/** Identifies the nodes on the critical path of a round. */
export interface CriticalPath {
  /** Device/edge whose activations reach the cloud last (forward phase). */
  upDeviceId: string;
  upEdgeId: string;
  /** Edge/device whose backward pass finishes last (backward phase). */
  downEdgeId: string;
  downDeviceId: string;
}

/**
 * Mean round time split along the critical path, in ms. The fields sum to
 * `total`. Compute fields add the forward time on the up-path node and the
 * backward time on the down-path node.
 */
export interface Breakdown {
  deviceCompute: number;
  deviceUp: number;
  edgeCompute: number;
  edgeUp: number;
  cloudCompute: number;
  edgeDown: number;
  deviceDown: number;
  /** Device-tier aggregation time divided by I1. */
  aggDevice: number;
  /** Edge-tier aggregation time divided by I2. */
  aggEdge: number;
  total: number;
  critical: CriticalPath;
}

/** Number of sub-model copies per tier; a tier with <= 1 copy never diverges. */
export interface TierCopies {
  device: number;
  edge: number;
}

export interface PlanScore {
  plan: Plan;
  /** Predicted time to target, ms (= rounds x predictedRoundMs). */
  objective: number;
  predictedRoundMs: number;
  /** Predicted rounds to target (real-valued). */
  rounds: number;
}

export interface PlanResult extends PlanScore {
  breakdown: Breakdown;
  /** Best plans of the next best distinct cut pairs (up to 5). */
  runnersUp: PlanScore[];
  iterations: number;
  evaluated: number;
}

export interface PlannerOptions {
  /** Largest aggregation interval considered (default 20). */
  iMax?: number;
  /** Smallest c1 allowed, e.g. 1 to keep raw data on devices (default 0). */
  minC1?: number;
  /** Cap on outer (MS + MA) iterations per restart (default 50). */
  maxIterations?: number;
}
