// Rows and options of the store. The dependency-free rows live in rows.ts.
export * from './rows.js';

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
