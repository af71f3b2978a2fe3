import { randomBytes } from 'node:crypto';
import { StoreError } from './errors.js';
import { AuditStore } from './audit-store.js';
import { openDatabase } from './core.js';
import {
  EVENT_LEVELS,
  NODE_ROLES,
  NODE_STATUSES,
  RUN_STATUSES,
  TERMINAL_RUN_STATUSES,
  type CapacityRow,
  type EventRow,
  type NodeRow,
  type PlanRow,
  type RoundMetrics,
  type RunRow,
  type RunStatus,
  type StoreOptions,
  type SyncCheckpointInput,
} from './types.js';
import {
  type RunDb,
  type NodeDb,
  type PlanDb,
  type MetricsDb,
  type EventDb,
  type CapacityDb,
  runFromDb,
  nodeFromDb,
  planFromDb,
  metricsFromDb,
  eventFromDb,
  capacityFromDb,
} from './db-rows.js';
import * as v from './validate.js';

const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const DEFAULT_EVENT_LIMIT = 1000;
const INTERRUPTIBLE: readonly RunStatus[] = ['running', 'paused'];

let lastIdMs = 0;
/**
 * A new run id: compact UTC time to the millisecond plus 8 random hex digits,
 * e.g. `20250314T153012345Z-9f3a61c2`. Ids sort by creation time (strictly
 * increasing within a process) and are unique across processes.
 */
export function newRunId(): string {
  let ms = Date.now();
  if (ms <= lastIdMs) ms = lastIdMs + 1;
  lastIdMs = ms;
  const t = new Date(ms).toISOString().replace(/[-:.]/g, '');
  return `${t}-${randomBytes(4).toString('hex')}`;
}

/**
 * The coordinator's SQLite store. Synchronous (better-sqlite3); one instance
 * per process is enough, several processes may open the same file (WAL:
 * readers never block the writer; writers wait up to busyTimeoutMs).
 *
 * Every write method is atomic: it runs in its own transaction (a savepoint
 * when called inside `transaction()`), and a failure throws a StoreError and
 * changes nothing.
 */
export class Store extends AuditStore {
  /**
   * Open (creating the file and its parent directory if needed) and migrate.
   * `':memory:'` gives a private in-memory database (no WAL, nothing persisted).
   */
  static open(path: string, options: StoreOptions = {}): Store {
    const { db, path: resolved, schemaVersion } = openDatabase(path, options);
    return new Store(db, resolved, schemaVersion);
  }

  // ---------------------------------------------------------------- runs

  createRun(r: { id?: string; name: string; config: unknown }): RunRow {
    return this.write('createRun', () => {
      if (r === null || typeof r !== 'object') throw new StoreError('INVALID_INPUT', 'createRun needs an object { id?, name, config }');
      const id = r.id === undefined ? newRunId() : v.str('run id', r.id);
      if (!RUN_ID_RE.test(id)) {
        throw new StoreError('INVALID_INPUT', `run id must be 1-128 characters of [A-Za-z0-9._:-] starting with a letter or digit, got ${JSON.stringify(id)}`);
      }
      const name = v.str('run name', r.name, { nonEmpty: true });
      const config = v.json('run config', r.config);
      if (this.runExists(id)) throw new StoreError('DUPLICATE_RUN', `run ${id} already exists`);
      this.stmt(`INSERT INTO runs (id, name, status, config, created_at) VALUES (?, ?, 'created', ?, ?)`).run(id, name, config, Date.now());
      return this.getRun(id)!;
    });
  }

  getRun(id: string): RunRow | undefined {
    const row = this.read('getRun', () => this.stmt('SELECT * FROM runs WHERE id = ?').get(v.str('run id', id)) as RunDb | undefined);
    return row && runFromDb(row);
  }

  /** Newest first. */
  listRuns(opts: { limit?: number } = {}): RunRow[] {
    const limit = v.positiveLimit('limit', opts.limit) ?? -1;
    return this.read('listRuns', () =>
      (this.stmt('SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as RunDb[]).map(runFromDb),
    );
  }

  /**
   * Change a run's status. Entering 'running' sets startedAt (once); entering
   * completed/failed/stopped sets endedAt. Terminal states are final, and no
   * run goes back to 'created' (code INVALID_TRANSITION). Setting the current
   * status again is allowed and only updates `extra`.
   */
  setRunStatus(id: string, status: RunStatus, extra: { error?: string; finalAccuracy?: number; finalLoss?: number } = {}): void {
    this.write('setRunStatus', () => {
      v.str('run id', id);
      v.oneOf('run status', status, RUN_STATUSES);
      const error = v.optStr('error', extra?.error);
      const finalAccuracy = v.optNum('finalAccuracy', extra?.finalAccuracy, { min: 0, max: 1 });
      const finalLoss = v.optNum('finalLoss', extra?.finalLoss);
      const cur = this.stmt('SELECT status FROM runs WHERE id = ?').get(id) as { status: RunStatus } | undefined;
      if (!cur) throw new StoreError('UNKNOWN_RUN', `unknown run ${id}`);
      if (cur.status !== status) {
        if (TERMINAL_RUN_STATUSES.includes(cur.status)) {
          throw new StoreError('INVALID_TRANSITION', `run ${id} is ${cur.status}; it cannot become ${status}`);
        }
        if (status === 'created') throw new StoreError('INVALID_TRANSITION', `run ${id} is ${cur.status}; it cannot go back to created`);
      }
      const now = Date.now();
      this.stmt(
        `UPDATE runs SET
           status = @status,
           started_at = CASE WHEN @status = 'running' AND started_at IS NULL THEN @now ELSE started_at END,
           ended_at = CASE WHEN @status IN ('completed','failed','stopped') AND ended_at IS NULL THEN @now ELSE ended_at END,
           error = coalesce(@error, error),
           final_accuracy = coalesce(@finalAccuracy, final_accuracy),
           final_loss = coalesce(@finalLoss, final_loss)
         WHERE id = @id`,
      ).run({ id, status, now, error, finalAccuracy, finalLoss });
    });
  }

  /**
   * Runs a coordinator left 'running' or 'paused' — after a crash, the runs to
   * resume (or to mark failed). Oldest first.
   */
  interruptedRuns(): RunRow[] {
    return this.read('interruptedRuns', () =>
      (this.stmt(`SELECT * FROM runs WHERE status IN ('running','paused') ORDER BY created_at, rowid`).all() as RunDb[]).map(runFromDb),
    );
  }

  /**
   * An operator gives up on an interrupted run: 'running' or 'paused' becomes
   * 'failed' with `reason` as its error, atomically (a run that ended or never
   * started meanwhile is refused with INVALID_TRANSITION and left alone).
   * The caller must know no live coordinator is driving the run.
   */
  failInterruptedRun(runId: string, reason: string): RunRow {
    return this.write('failInterruptedRun', () => {
      v.str('run id', runId);
      const error = v.str('reason', reason, { nonEmpty: true });
      const cur = this.stmt('SELECT status FROM runs WHERE id = ?').get(runId) as { status: RunStatus } | undefined;
      if (!cur) throw new StoreError('UNKNOWN_RUN', `unknown run ${runId}`);
      if (!INTERRUPTIBLE.includes(cur.status)) {
        throw new StoreError('INVALID_TRANSITION', `run ${runId} is ${cur.status}; only a running or paused run can be marked failed`);
      }
      // Overwrites any earlier error text: the operator's reason is why the run ended.
      this.stmt('UPDATE runs SET error = ? WHERE id = ?').run(error, runId);
      this.setRunStatus(runId, 'failed');
      return this.getRun(runId)!;
    });
  }

  /** Delete a run and, by cascade, its nodes, capacity reports, plans, metrics, events, model and sync checkpoints. */
  deleteRun(id: string): void {
    this.write('deleteRun', () => {
      const res = this.stmt('DELETE FROM runs WHERE id = ?').run(v.str('run id', id));
      if (res.changes === 0) throw new StoreError('UNKNOWN_RUN', `unknown run ${id}`);
    });
  }

  // --------------------------------------------------------------- nodes

  /**
   * Insert or update a node of a run. On update every descriptive field is
   * replaced; joinedAt keeps the first join; lastSeenAt becomes `at` (default
   * now) unless it is older than the stored value.
   */
  upsertNode(n: Omit<NodeRow, 'joinedAt' | 'lastSeenAt'> & { at?: number }): void {
    this.write('upsertNode', () => {
      if (n === null || typeof n !== 'object') throw new StoreError('INVALID_INPUT', 'upsertNode needs a node object');
      const row = {
        runId: v.str('runId', n.runId),
        nodeId: v.str('nodeId', n.nodeId, { nonEmpty: true }),
        role: v.oneOf('role', n.role, NODE_ROLES),
        parentId: v.optStr('parentId', n.parentId),
        backend: v.optStr('backend', n.backend),
        host: v.optStr('host', n.host),
        status: v.oneOf('node status', n.status, NODE_STATUSES),
        samples: v.optInt('samples', n.samples, 0),
        at: n.at === undefined ? Date.now() : v.time('at', n.at),
      };
      this.requireRun(row.runId);
      this.stmt(
        `INSERT INTO nodes (run_id, node_id, role, parent_id, backend, host, status, samples, joined_at, last_seen_at)
         VALUES (@runId, @nodeId, @role, @parentId, @backend, @host, @status, @samples, @at, @at)
         ON CONFLICT (run_id, node_id) DO UPDATE SET
           role = excluded.role, parent_id = excluded.parent_id, backend = excluded.backend, host = excluded.host,
           status = excluded.status, samples = excluded.samples,
           last_seen_at = max(last_seen_at, excluded.last_seen_at)`,
      ).run(row);
    });
  }

  /** Change a node's status; 'connected' also refreshes lastSeenAt. Throws UNKNOWN_NODE. */
  setNodeStatus(runId: string, nodeId: string, status: NodeRow['status']): void {
    this.write('setNodeStatus', () => {
      v.str('runId', runId);
      v.str('nodeId', nodeId);
      v.oneOf('node status', status, NODE_STATUSES);
      this.requireRun(runId);
      const res = this.stmt(
        `UPDATE nodes SET status = @status,
           last_seen_at = CASE WHEN @status = 'connected' THEN max(last_seen_at, @now) ELSE last_seen_at END
         WHERE run_id = @runId AND node_id = @nodeId`,
      ).run({ runId, nodeId, status, now: Date.now() });
      if (res.changes === 0) throw new StoreError('UNKNOWN_NODE', `unknown node ${nodeId} in run ${runId}`);
    });
  }

  /** Ordered by role (cloud, edge, device) then nodeId. */
  listNodes(runId: string): NodeRow[] {
    return this.read('listNodes', () =>
      (
        this.stmt(
          `SELECT * FROM nodes WHERE run_id = ?
           ORDER BY CASE role WHEN 'cloud' THEN 0 WHEN 'edge' THEN 1 ELSE 2 END, node_id`,
        ).all(v.str('runId', runId)) as NodeDb[]
      ).map(nodeFromDb),
    );
  }

  // ------------------------------------------------------------ capacity

  /** Store a capacity report (runId null: measured outside any run). Returns its id. */
  addCapacity(runId: string | null, nodeId: string, report: unknown): number {
    return this.write('addCapacity', () => {
      const rid = v.optStr('runId', runId);
      v.str('nodeId', nodeId, { nonEmpty: true });
      const text = v.json('capacity report', report);
      if (rid !== null) this.requireRun(rid);
      const res = this.stmt('INSERT INTO capacity_reports (run_id, node_id, at, report) VALUES (?, ?, ?, ?)').run(rid, nodeId, Date.now(), text);
      return Number(res.lastInsertRowid);
    });
  }

  /** Reports of one run (runId null: reports outside any run), oldest first, optionally of one node. */
  listCapacity(runId: string | null, nodeId?: string): CapacityRow[] {
    return this.read('listCapacity', () => {
      const rid = v.optStr('runId', runId);
      const rows =
        nodeId === undefined
          ? this.stmt('SELECT * FROM capacity_reports WHERE run_id IS ? ORDER BY id').all(rid)
          : this.stmt('SELECT * FROM capacity_reports WHERE run_id IS ? AND node_id = ? ORDER BY id').all(rid, v.str('nodeId', nodeId));
      return (rows as CapacityDb[]).map(capacityFromDb);
    });
  }

  /** The most recent report of each node of the run, ordered by nodeId. */
  latestCapacity(runId: string): CapacityRow[] {
    return this.read('latestCapacity', () =>
      (
        this.stmt(
          `SELECT c.* FROM capacity_reports c
           JOIN (SELECT node_id, max(id) AS id FROM capacity_reports WHERE run_id = ? GROUP BY node_id) l ON l.id = c.id
           ORDER BY c.node_id`,
        ).all(v.str('runId', runId)) as CapacityDb[]
      ).map(capacityFromDb),
    );
  }

  // --------------------------------------------------------------- plans

  addPlan(p: Omit<PlanRow, 'createdAt' | 'appliedAtRound'>): void {
    this.write('addPlan', () => {
      if (p === null || typeof p !== 'object') throw new StoreError('INVALID_INPUT', 'addPlan needs a plan object');
      const runId = v.str('runId', p.runId);
      const version = v.int('plan version', p.version, 0);
      const plan = v.json('plan', p.plan);
      const prediction = v.optJson('plan prediction', p.prediction);
      const reason = v.str('plan reason', p.reason);
      this.requireRun(runId);
      if (this.stmt('SELECT 1 FROM plans WHERE run_id = ? AND version = ?').get(runId, version)) {
        throw new StoreError('DUPLICATE_PLAN', `run ${runId} already has plan version ${version}`);
      }
      this.stmt('INSERT INTO plans (run_id, version, plan, prediction, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(
        runId, version, plan, prediction, reason, Date.now(),
      );
    });
  }

  /** Record the round at which a plan took effect. Repeating the same round is a no-op; a different round is refused. */
  markPlanApplied(runId: string, version: number, round: number): void {
    this.write('markPlanApplied', () => {
      v.str('runId', runId);
      v.int('plan version', version, 0);
      v.int('round', round, 0);
      this.requireRun(runId);
      const cur = this.stmt('SELECT applied_at_round AS r FROM plans WHERE run_id = ? AND version = ?').get(runId, version) as
        | { r: number | null }
        | undefined;
      if (!cur) throw new StoreError('UNKNOWN_PLAN', `run ${runId} has no plan version ${version}`);
      if (cur.r === round) return;
      if (cur.r !== null) {
        throw new StoreError('PLAN_ALREADY_APPLIED', `plan ${version} of run ${runId} was already applied at round ${cur.r}`);
      }
      this.stmt('UPDATE plans SET applied_at_round = ? WHERE run_id = ? AND version = ?').run(round, runId, version);
    });
  }

  /** Ordered by version. */
  listPlans(runId: string): PlanRow[] {
    return this.read('listPlans', () =>
      (this.stmt('SELECT * FROM plans WHERE run_id = ? ORDER BY version').all(v.str('runId', runId)) as PlanDb[]).map(planFromDb),
    );
  }

  /** The plan with the highest version (whether applied yet or not). */
  latestPlan(runId: string): PlanRow | undefined {
    const row = this.read('latestPlan', () =>
      this.stmt('SELECT * FROM plans WHERE run_id = ? ORDER BY version DESC LIMIT 1').get(v.str('runId', runId)) as PlanDb | undefined,
    );
    return row && planFromDb(row);
  }

  // ------------------------------------------------------------- metrics

  /** Record one round. A round already recorded for the run is refused (DUPLICATE_ROUND) and nothing changes. */
  addRoundMetrics(runId: string, m: RoundMetrics): void {
    this.write('addRoundMetrics', () => this.insertRoundMetrics('addRoundMetrics', runId, m));
  }

  /**
   * Record one round and, if given, the sync checkpoint taken after it, in ONE
   * transaction: both are written or neither (a duplicate round, bad metrics or
   * a bad checkpoint throw and change nothing). The checkpoint's round must be
   * metrics.round + 1, the round the run resumes at. Older sync checkpoints of
   * the run beyond the latest two are pruned in the same transaction.
   */
  commitRound(runId: string, metrics: RoundMetrics, checkpoint?: SyncCheckpointInput): void {
    this.write('commitRound', () => {
      this.insertRoundMetrics('commitRound', runId, metrics);
      if (checkpoint === undefined) return;
      if (checkpoint !== null && typeof checkpoint === 'object' && checkpoint.round !== metrics.round + 1) {
        throw new StoreError(
          'INVALID_INPUT',
          `the checkpoint committed with round ${metrics.round} must resume at round ${metrics.round + 1}, got round ${String(checkpoint.round)}`,
        );
      }
      this.insertSyncCheckpoint(runId, checkpoint);
    });
  }

  private insertRoundMetrics(what: string, runId: string, m: RoundMetrics): void {
    v.str('runId', runId);
    if (m === null || typeof m !== 'object') throw new StoreError('INVALID_INPUT', `${what} needs a metrics object`);
    const nonNeg = { min: 0 };
    const acc = { min: 0, max: 1 };
    const row = {
      run_id: runId,
      round: v.int('round', m.round, 0),
      plan_version: v.int('planVersion', m.planVersion, 0),
      samples: v.int('samples', m.samples, 0),
      loss: v.num('loss', m.loss),
      train_accuracy: v.num('trainAccuracy', m.trainAccuracy, acc),
      test_accuracy: v.optNum('testAccuracy', m.testAccuracy, acc),
      test_loss: v.optNum('testLoss', m.testLoss),
      round_ms: v.num('roundMs', m.roundMs, nonNeg),
      device_compute_ms: v.num('deviceComputeMs', m.deviceComputeMs, nonNeg),
      edge_compute_ms: v.num('edgeComputeMs', m.edgeComputeMs, nonNeg),
      cloud_compute_ms: v.num('cloudComputeMs', m.cloudComputeMs, nonNeg),
      edge_wait_ms: v.num('edgeWaitMs', m.edgeWaitMs, nonNeg),
      cloud_wait_ms: v.num('cloudWaitMs', m.cloudWaitMs, nonNeg),
      bytes_device_edge_up: v.int('bytesDeviceEdgeUp', m.bytesDeviceEdgeUp, 0),
      bytes_edge_device_down: v.int('bytesEdgeDeviceDown', m.bytesEdgeDeviceDown, 0),
      bytes_edge_cloud_up: v.int('bytesEdgeCloudUp', m.bytesEdgeCloudUp, 0),
      bytes_cloud_edge_down: v.int('bytesCloudEdgeDown', m.bytesCloudEdgeDown, 0),
      devices: v.int('devices', m.devices, 0),
      late_devices: v.int('lateDevices', m.lateDevices, 0),
      synced_devices: v.bool('syncedDevices', m.syncedDevices),
      synced_edges: v.bool('syncedEdges', m.syncedEdges),
      ended_at: v.time('endedAt', m.endedAt),
    };
    this.requireRun(runId);
    if (this.stmt('SELECT 1 FROM round_metrics WHERE run_id = ? AND round = ?').get(runId, row.round)) {
      throw new StoreError('DUPLICATE_ROUND', `run ${runId} already has metrics for round ${row.round}; rounds are recorded once`);
    }
    const cols = Object.keys(row);
    this.stmt(`INSERT INTO round_metrics (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`).run(row);
  }

  /**
   * Rounds in ascending order. With `sinceRound`: rounds > sinceRound, the
   * first `limit` of them. Without: the last `limit` rounds (all by default).
   */
  listRoundMetrics(runId: string, opts: { sinceRound?: number; limit?: number } = {}): RoundMetrics[] {
    return this.read('listRoundMetrics', () => {
      v.str('runId', runId);
      const limit = v.positiveLimit('limit', opts.limit) ?? -1;
      let rows: MetricsDb[];
      if (opts.sinceRound !== undefined) {
        const since = v.int('sinceRound', opts.sinceRound, -1);
        rows = this.stmt('SELECT * FROM round_metrics WHERE run_id = ? AND round > ? ORDER BY round LIMIT ?').all(runId, since, limit) as MetricsDb[];
      } else {
        rows = (this.stmt('SELECT * FROM round_metrics WHERE run_id = ? ORDER BY round DESC LIMIT ?').all(runId, limit) as MetricsDb[]).reverse();
      }
      return rows.map(metricsFromDb);
    });
  }

  // -------------------------------------------------------------- events

  /** Append an event (runId null: not tied to a run). Returns its id; ids only ever increase. */
  addEvent(e: Omit<EventRow, 'id' | 'at'> & { at?: number }): number {
    return this.write('addEvent', () => {
      if (e === null || typeof e !== 'object') throw new StoreError('INVALID_INPUT', 'addEvent needs an event object');
      const row = {
        runId: v.optStr('runId', e.runId),
        at: e.at === undefined ? Date.now() : v.time('at', e.at),
        level: v.oneOf('level', e.level, EVENT_LEVELS),
        kind: v.str('kind', e.kind, { nonEmpty: true }),
        nodeId: v.optStr('nodeId', e.nodeId),
        message: v.str('message', e.message),
        data: v.optJson('event data', e.data),
      };
      if (row.runId !== null) this.requireRun(row.runId);
      const res = this.stmt(
        'INSERT INTO events (run_id, at, level, kind, node_id, message, data) VALUES (@runId, @at, @level, @kind, @nodeId, @message, @data)',
      ).run(row);
      return Number(res.lastInsertRowid);
    });
  }

  /**
   * Events in ascending id order. `runId`: only that run's events (omitted: all,
   * including those without a run). `level`: that level and more severe.
   * With `sinceId`: events with id > sinceId, the first `limit`. Without: the
   * last `limit`. `limit` defaults to 1000.
   */
  listEvents(opts: { runId?: string; sinceId?: number; limit?: number; level?: EventRow['level'] } = {}): EventRow[] {
    return this.read('listEvents', () => {
      const limit = v.positiveLimit('limit', opts.limit) ?? DEFAULT_EVENT_LIMIT;
      const where: string[] = [];
      const params: unknown[] = [];
      if (opts.runId !== undefined) {
        where.push('run_id = ?');
        params.push(v.str('runId', opts.runId));
      }
      if (opts.level !== undefined) {
        const min = EVENT_LEVELS.indexOf(v.oneOf('level', opts.level, EVENT_LEVELS));
        const levels = EVENT_LEVELS.slice(min);
        where.push(`level IN (${levels.map(() => '?').join(', ')})`);
        params.push(...levels);
      }
      const tail = opts.sinceId === undefined;
      if (!tail) {
        where.push('id > ?');
        params.push(v.int('sinceId', opts.sinceId, 0));
      }
      const sql = `SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id ${tail ? 'DESC' : 'ASC'} LIMIT ?`;
      const rows = this.stmt(sql).all(...params, limit) as EventDb[];
      if (tail) rows.reverse();
      return rows.map(eventFromDb);
    });
  }
}
