// Model checkpoints (periodic, final) and the sync checkpoints a run
// resumes from, with the rollback to one of them.
import { StoreError } from './errors.js';
import { StoreCore } from './core.js';
import {
  CHECKPOINT_KINDS,
  type CheckpointRow,
  type RollbackResult,
  type SyncCheckpoint,
  type SyncCheckpointInput,
} from './types.js';
import { checkpointFromDb, syncCheckpointFromDb, tierColumns, type CheckpointDb, type SyncCheckpointDb } from './db-rows.js';
import * as v from './validate.js';

/** Sync checkpoints kept per run: the latest, and one more in case the latest turns out unusable. */
const SYNC_CHECKPOINTS_KEPT = 2;

export class CheckpointStore extends StoreCore {
  // --------------------------------------------------------- checkpoints

  /** Save a checkpoint; saving the same (runId, round, kind) again replaces it. */
  saveCheckpoint(c: Omit<CheckpointRow, 'createdAt'>): void {
    this.write('saveCheckpoint', () => {
      if (c === null || typeof c !== 'object') throw new StoreError('INVALID_INPUT', 'saveCheckpoint needs a checkpoint object');
      const runId = v.str('runId', c.runId);
      const round = v.int('round', c.round, 0);
      const kind = v.oneOf('checkpoint kind', c.kind, CHECKPOINT_KINDS);
      const modelJson = v.str('modelJson', c.modelJson, { nonEmpty: true });
      try {
        JSON.parse(modelJson);
      } catch {
        throw new StoreError('INVALID_INPUT', 'modelJson must be a JSON string (the model topology)');
      }
      const w: unknown = c.weights;
      if (!(w instanceof Uint8Array)) throw new StoreError('INVALID_INPUT', 'weights must be a Buffer or Uint8Array');
      const weights = Buffer.isBuffer(w) ? w : Buffer.from(w.buffer, w.byteOffset, w.byteLength);
      const accuracy = v.optNum('accuracy', c.accuracy, { min: 0, max: 1 });
      this.requireRun(runId);
      this.stmt(
        `INSERT INTO checkpoints (run_id, round, kind, model_json, weights, accuracy, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, round, kind) DO UPDATE SET
           model_json = excluded.model_json, weights = excluded.weights, accuracy = excluded.accuracy, created_at = excluded.created_at`,
      ).run(runId, round, kind, modelJson, weights, accuracy, Date.now());
    });
  }

  /** The checkpoint with the highest round (of `kind` if given; at equal rounds 'final' wins). */
  latestCheckpoint(runId: string, kind?: CheckpointRow['kind']): CheckpointRow | undefined {
    const row = this.read('latestCheckpoint', () => {
      v.str('runId', runId);
      if (kind === undefined) {
        return this.stmt(
          `SELECT * FROM checkpoints WHERE run_id = ? ORDER BY round DESC, CASE kind WHEN 'final' THEN 0 ELSE 1 END LIMIT 1`,
        ).get(runId) as CheckpointDb | undefined;
      }
      return this.stmt('SELECT * FROM checkpoints WHERE run_id = ? AND kind = ? ORDER BY round DESC LIMIT 1').get(
        runId, v.oneOf('checkpoint kind', kind, CHECKPOINT_KINDS),
      ) as CheckpointDb | undefined;
    });
    return row && checkpointFromDb(row);
  }

  /** Delete all but the `keep` most recent periodic checkpoints of a run (final ones are kept). Returns how many were deleted. */
  prunePeriodicCheckpoints(runId: string, keep: number): number {
    return this.write('prunePeriodicCheckpoints', () => {
      v.str('runId', runId);
      v.int('keep', keep, 0);
      this.requireRun(runId);
      return this.stmt(
        `DELETE FROM checkpoints WHERE run_id = @runId AND kind = 'periodic' AND round NOT IN
           (SELECT round FROM checkpoints WHERE run_id = @runId AND kind = 'periodic' ORDER BY round DESC LIMIT @keep)`,
      ).run({ runId, keep }).changes;
    });
  }

  // ---------------------------------------------------- sync checkpoints

  /**
   * Save a sync checkpoint on its own (e.g. at round 0, before any round ran;
   * after a round use commitRound so it goes with the round's metrics). Saving
   * the run's latest round again replaces it; a round older than the latest is
   * refused (INVALID_INPUT: roll back first). Keeps the latest two per run.
   */
  saveSyncCheckpoint(runId: string, checkpoint: SyncCheckpointInput): void {
    this.write('saveSyncCheckpoint', () => this.insertSyncCheckpoint(runId, checkpoint));
  }

  /** The run's sync checkpoint with the highest round, or undefined (also for an unknown run). */
  latestSyncCheckpoint(runId: string): SyncCheckpoint | undefined {
    const row = this.read('latestSyncCheckpoint', () =>
      this.stmt('SELECT * FROM sync_checkpoints WHERE run_id = ? ORDER BY round DESC LIMIT 1').get(v.str('runId', runId)) as
        | SyncCheckpointDb
        | undefined,
    );
    return row && syncCheckpointFromDb(row);
  }

  /**
   * Undo everything recorded after the sync checkpoint at `round` (the next
   * round to run) with plan `planVersion`, in one transaction: round metrics of
   * rounds >= round, plans of versions > planVersion, the applied round of a
   * plan applied after `round`, sync checkpoints of rounds > round and model
   * checkpoints (periodic or final; their round counts rounds completed) of
   * rounds > round. Events, nodes and capacity reports are history and stay.
   * Returns the removed rounds and plan versions, ascending.
   */
  rollbackToCheckpoint(runId: string, round: number, planVersion: number): RollbackResult {
    return this.write('rollbackToCheckpoint', () => {
      v.str('runId', runId);
      v.int('round', round, 0);
      v.int('planVersion', planVersion, 0);
      this.requireRun(runId);
      const p = { runId, round, planVersion };
      const roundsRemoved = this.stmt('SELECT round FROM round_metrics WHERE run_id = @runId AND round >= @round ORDER BY round')
        .pluck()
        .all(p) as number[];
      const plansRemoved = this.stmt('SELECT version FROM plans WHERE run_id = @runId AND version > @planVersion ORDER BY version')
        .pluck()
        .all(p) as number[];
      this.stmt('DELETE FROM round_metrics WHERE run_id = @runId AND round >= @round').run(p);
      this.stmt('DELETE FROM plans WHERE run_id = @runId AND version > @planVersion').run(p);
      this.stmt('UPDATE plans SET applied_at_round = NULL WHERE run_id = @runId AND applied_at_round > @round').run(p);
      this.stmt('DELETE FROM sync_checkpoints WHERE run_id = @runId AND round > @round').run(p);
      this.stmt('DELETE FROM checkpoints WHERE run_id = @runId AND round > @round').run(p);
      return { roundsRemoved, plansRemoved };
    });
  }

  /** Validate, insert (or replace the same round) and prune; the caller provides the transaction. */
  protected insertSyncCheckpoint(runId: string, c: SyncCheckpointInput): void {
    v.str('runId', runId);
    if (c === null || typeof c !== 'object') throw new StoreError('INVALID_INPUT', 'a sync checkpoint must be an object');
    const row = {
      run_id: runId,
      round: v.int('checkpoint round', c.round, 0),
      plan_version: v.int('checkpoint planVersion', c.planVersion, 0),
      plan: v.json('checkpoint plan', c.plan),
      state: v.json('checkpoint state', c.state),
      ...tierColumns('device', c.deviceWeights),
      ...tierColumns('edge', c.edgeWeights),
      ...tierColumns('top', c.topWeights),
      created_at: Date.now(),
    };
    this.requireRun(runId);
    const latest = this.stmt('SELECT max(round) FROM sync_checkpoints WHERE run_id = ?').pluck().get(runId) as number | null;
    if (latest !== null && row.round < latest) {
      // Only a rollback may move a run's checkpoints backwards; anything else is a coordinator bug.
      throw new StoreError('INVALID_INPUT', `run ${runId} already has a sync checkpoint at round ${latest}; one at round ${row.round} is older (roll back first)`);
    }
    const cols = Object.keys(row);
    this.stmt(
      `INSERT OR REPLACE INTO sync_checkpoints (${cols.join(', ')}) VALUES (${cols.map((k) => '@' + k).join(', ')})`,
    ).run(row);
    this.stmt(
      `DELETE FROM sync_checkpoints WHERE run_id = @runId AND round NOT IN
         (SELECT round FROM sync_checkpoints WHERE run_id = @runId ORDER BY round DESC LIMIT @keep)`,
    ).run({ runId, keep: SYNC_CHECKPOINTS_KEPT });
  }
}
