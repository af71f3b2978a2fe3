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
