import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Store, StoreError, newRunId, type RoundMetrics, type StoreErrorCode } from './index.js';
import { isStoreError, metrics, refusedWithoutChange as refusedWithoutChangeIn, snapshot, tempDir } from './test-helpers.js';

describe('Store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let s: Store;
  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'hsfl.db');
    s = Store.open(path);
  });
  afterEach(() => {
    s.close();
    tmp.cleanup();
  });

  function refusedWithoutChange(code: StoreErrorCode, fn: () => unknown, message?: RegExp): void {

    refusedWithoutChangeIn(path, code, fn, message);

  }

  describe('pragmas', () => {
    it('uses WAL journal mode (persistent in the file) and enforces foreign keys', () => {
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        db.close();
      }
      // foreign keys are on: a child row for an unknown run is refused even past the store's own check
      refusedWithoutChange('UNKNOWN_RUN', () =>
        s.addEvent({ runId: 'nope', level: 'info', kind: 'x', nodeId: null, message: '', data: null }),
      );
    });

    it('works in memory', () => {
      const m = Store.open(':memory:');
      try {
        const r = m.createRun({ name: 'mem', config: [1, 2] });
        assert.deepEqual(m.getRun(r.id)?.config, [1, 2]);
        assert.equal(m.path, ':memory:');
      } finally {
        m.close();
      }
    });

    it('validates options', () => {
      assert.throws(() => Store.open(':memory:', { busyTimeoutMs: -1 }), isStoreError('INVALID_INPUT'));
      assert.throws(() => Store.open(':memory:', { synchronous: 'off' as never }), isStoreError('INVALID_INPUT'));
      assert.throws(() => Store.open(''), isStoreError('INVALID_INPUT'));
    });

    it('throws CLOSED after close; close is idempotent', () => {
      const m = Store.open(':memory:');
      m.close();
      m.close();
      assert.throws(() => m.listRuns(), isStoreError('CLOSED'));
      assert.throws(() => m.createRun({ name: 'x', config: {} }), isStoreError('CLOSED'));
    });
  });

  describe('runs', () => {
    it('creates with a sortable unique default id and round-trips', () => {
      const ids = Array.from({ length: 500 }, () => newRunId());
      assert.equal(new Set(ids).size, ids.length);
      assert.deepEqual([...ids].sort(), ids);
      assert.match(ids[0]!, /^\d{8}T\d{9}Z-[0-9a-f]{8}$/);

      const t0 = Date.now();
      const config = { model: 'mnist-cnn', nested: { cuts: [1, 3], ok: true, none: null }, s: 'é' };
      const r = s.createRun({ name: 'trial', config });
      assert.ok(r.createdAt >= t0 && r.createdAt <= Date.now());
      assert.deepEqual(r, {
        id: r.id, name: 'trial', status: 'created', config, createdAt: r.createdAt,
        startedAt: null, endedAt: null, finalAccuracy: null, finalLoss: null, error: null,
      });
      assert.deepEqual(s.getRun(r.id), r);
      assert.equal(s.getRun('missing'), undefined);
    });

    it('lists newest first with a limit', () => {
      const a = s.createRun({ name: 'a', config: {} });
      const b = s.createRun({ name: 'b', config: {} });
      const c = s.createRun({ id: 'custom-id', name: 'c', config: {} });
      assert.deepEqual(s.listRuns().map((r) => r.id), [c.id, b.id, a.id]);
      assert.deepEqual(s.listRuns({ limit: 2 }).map((r) => r.id), [c.id, b.id]);
    });

    it('status transitions set startedAt/endedAt and extras', () => {
      const r = s.createRun({ id: 'r', name: 'r', config: {} });
      s.setRunStatus(r.id, 'running');
      const started = s.getRun(r.id)!.startedAt;
      assert.ok(started !== null);
      s.setRunStatus(r.id, 'paused');
      s.setRunStatus(r.id, 'running');
      assert.equal(s.getRun(r.id)!.startedAt, started, 'resuming keeps the first start');
      assert.equal(s.getRun(r.id)!.endedAt, null);
      s.setRunStatus(r.id, 'completed', { finalAccuracy: 0.9812, finalLoss: 0.061 });
      const done = s.getRun(r.id)!;
      assert.equal(done.status, 'completed');
      assert.ok(done.endedAt !== null && done.endedAt >= started!);
      assert.equal(done.finalAccuracy, 0.9812);
      assert.equal(done.finalLoss, 0.061);
      s.setRunStatus(r.id, 'completed'); // same status: allowed, extras kept
      assert.deepEqual(s.getRun(r.id), done);

      const f = s.createRun({ id: 'f', name: 'f', config: {} });
      s.setRunStatus(f.id, 'failed', { error: 'edge e1 lost' });
      assert.equal(s.getRun(f.id)!.error, 'edge e1 lost');
      assert.equal(s.getRun(f.id)!.startedAt, null);
      assert.ok(s.getRun(f.id)!.endedAt !== null);
    });

    it('refuses unknown runs, bad statuses and transitions out of terminal states', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      refusedWithoutChange('UNKNOWN_RUN', () => s.setRunStatus('nope', 'running'));
      refusedWithoutChange('INVALID_INPUT', () => s.setRunStatus('r', 'exploded' as never));
      refusedWithoutChange('INVALID_INPUT', () => s.setRunStatus('r', 'completed', { finalAccuracy: NaN }));
      refusedWithoutChange('INVALID_INPUT', () => s.setRunStatus('r', 'completed', { finalAccuracy: 1.5 }));
      s.setRunStatus('r', 'running');
      refusedWithoutChange('INVALID_TRANSITION', () => s.setRunStatus('r', 'created'));
      s.setRunStatus('r', 'stopped');
      refusedWithoutChange('INVALID_TRANSITION', () => s.setRunStatus('r', 'running'));
    });

    it('refuses bad createRun input and duplicates', () => {
      s.createRun({ id: 'dup', name: 'x', config: {} });
      refusedWithoutChange('DUPLICATE_RUN', () => s.createRun({ id: 'dup', name: 'y', config: {} }));
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ id: '', name: 'y', config: {} }));
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ id: 'has space', name: 'y', config: {} }));
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ name: '', config: {} }));
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ name: 'x', config: undefined }));
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ name: 'x', config: { lr: NaN } }), /config\.lr must be a finite number/);
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ name: 'x', config: { n: 1n } }));
      const cyclic: Record<string, unknown> = {};
      cyclic['self'] = cyclic;
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ name: 'x', config: cyclic }));
      refusedWithoutChange('INVALID_INPUT', () => s.createRun({ name: 42 as never, config: {} }));
    });
  });

  describe('nodes', () => {
    beforeEach(() => s.createRun({ id: 'r', name: 'r', config: {} }));

    it('upserts, keeps joinedAt, updates fields and lastSeenAt, lists in tier order', () => {
      s.upsertNode({ runId: 'r', nodeId: 'd2', role: 'device', parentId: 'e1', backend: 'wasm', host: 'pi-2', status: 'connected', samples: 600, at: 1000 });
      s.upsertNode({ runId: 'r', nodeId: 'd1', role: 'device', parentId: 'e1', backend: null, host: null, status: 'connected', samples: null, at: 1000 });
      s.upsertNode({ runId: 'r', nodeId: 'e1', role: 'edge', parentId: 'cloud', backend: 'tensorflow', host: 'edge-1', status: 'connected', samples: null, at: 900 });
      s.upsertNode({ runId: 'r', nodeId: 'cloud', role: 'cloud', parentId: null, backend: 'cpu', host: 'srv', status: 'connected', samples: null, at: 800 });
      assert.deepEqual(s.listNodes('r').map((n) => n.nodeId), ['cloud', 'e1', 'd1', 'd2']);
      assert.deepEqual(s.listNodes('r')[3], {
        runId: 'r', nodeId: 'd2', role: 'device', parentId: 'e1', backend: 'wasm', host: 'pi-2',
        status: 'connected', samples: 600, joinedAt: 1000, lastSeenAt: 1000,
      });

      s.upsertNode({ runId: 'r', nodeId: 'd2', role: 'device', parentId: 'e2', backend: 'cpu', host: 'pi-2', status: 'connected', samples: 700, at: 5000 });
      const d2 = s.listNodes('r').find((n) => n.nodeId === 'd2')!;
      assert.equal(d2.joinedAt, 1000);
      assert.equal(d2.lastSeenAt, 5000);
      assert.equal(d2.parentId, 'e2');
      assert.equal(d2.samples, 700);

      s.upsertNode({ runId: 'r', nodeId: 'd2', role: 'device', parentId: 'e2', backend: 'cpu', host: 'pi-2', status: 'connected', samples: 700, at: 3000 });
      assert.equal(s.listNodes('r').find((n) => n.nodeId === 'd2')!.lastSeenAt, 5000, 'lastSeenAt never goes back');

      s.setNodeStatus('r', 'd2', 'disconnected');
      assert.equal(s.listNodes('r').find((n) => n.nodeId === 'd2')!.status, 'disconnected');
      assert.equal(s.listNodes('r').find((n) => n.nodeId === 'd2')!.lastSeenAt, 5000);
      s.setNodeStatus('r', 'd2', 'connected');
      assert.ok(s.listNodes('r').find((n) => n.nodeId === 'd2')!.lastSeenAt > 5000);
      assert.deepEqual(s.listNodes('other'), []);
    });

    it('refuses bad nodes', () => {
      const ok = { runId: 'r', nodeId: 'd1', role: 'device' as const, parentId: 'e1', backend: null, host: null, status: 'connected' as const, samples: 10 };
      s.upsertNode(ok);
      refusedWithoutChange('UNKNOWN_RUN', () => s.upsertNode({ ...ok, runId: 'nope' }));
      refusedWithoutChange('INVALID_INPUT', () => s.upsertNode({ ...ok, role: 'phone' as never }));
      refusedWithoutChange('INVALID_INPUT', () => s.upsertNode({ ...ok, status: 'gone' as never }));
      refusedWithoutChange('INVALID_INPUT', () => s.upsertNode({ ...ok, samples: NaN }));
      refusedWithoutChange('INVALID_INPUT', () => s.upsertNode({ ...ok, samples: -1 }));
      refusedWithoutChange('INVALID_INPUT', () => s.upsertNode({ ...ok, samples: 1.5 }));
      refusedWithoutChange('INVALID_INPUT', () => s.upsertNode({ ...ok, nodeId: '' }));
      refusedWithoutChange('INVALID_INPUT', () => s.upsertNode({ ...ok, at: Infinity }));
      refusedWithoutChange('UNKNOWN_NODE', () => s.setNodeStatus('r', 'ghost', 'removed'));
      refusedWithoutChange('UNKNOWN_RUN', () => s.setNodeStatus('nope', 'd1', 'removed'));
      refusedWithoutChange('INVALID_INPUT', () => s.setNodeStatus('r', 'd1', 'asleep' as never));
    });
  });

  describe('capacity', () => {
    it('adds, lists (per run, per node, outside runs) and gives the latest per node', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      const rep = (ms: number) => ({ compute: { fwdMs: [ms, ms * 2] }, memory: { total: 4e9, free: 1e9 }, link: { upMbps: 94.2, rttMs: 0.4 } });
      const pre = s.addCapacity(null, 'd1', rep(1));
      const a = s.addCapacity('r', 'd1', rep(2));
      const b = s.addCapacity('r', 'd2', rep(3));
      const c = s.addCapacity('r', 'd1', rep(4));
      assert.ok(pre < a && a < b && b < c);
      assert.deepEqual(s.listCapacity('r').map((x) => x.id), [a, b, c]);
      assert.deepEqual(s.listCapacity('r', 'd1').map((x) => x.id), [a, c]);
      assert.deepEqual(s.listCapacity(null).map((x) => [x.id, x.runId, x.nodeId]), [[pre, null, 'd1']]);
      const latest = s.latestCapacity('r');
      assert.deepEqual(latest.map((x) => [x.nodeId, x.id]), [['d1', c], ['d2', b]]);
      assert.deepEqual(latest[0]!.report, rep(4));
      assert.equal(typeof latest[0]!.at, 'number');
      refusedWithoutChange('UNKNOWN_RUN', () => s.addCapacity('nope', 'd1', {}));
      refusedWithoutChange('INVALID_INPUT', () => s.addCapacity('r', 'd1', { fwdMs: [NaN] }));
      refusedWithoutChange('INVALID_INPUT', () => s.addCapacity('r', 'd1', undefined));
      refusedWithoutChange('INVALID_INPUT', () => s.addCapacity('r', '', {}));
    });
  });

  describe('plans', () => {
    it('adds, marks applied, lists and gives the latest', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      assert.equal(s.latestPlan('r'), undefined);
      const plan1 = { c1: 1, c2: 3, i1: 2, i2: 4, codec: 'fp16' };
      s.addPlan({ runId: 'r', version: 1, plan: plan1, prediction: { roundMs: 120.5, rounds: 300 }, reason: 'initial' });
      s.addPlan({ runId: 'r', version: 2, plan: { ...plan1, c1: 2 }, prediction: null, reason: 'device d3 joined' });
      s.markPlanApplied('r', 1, 0);
      s.markPlanApplied('r', 1, 0); // idempotent
      const plans = s.listPlans('r');
      assert.equal(plans.length, 2);
      assert.deepEqual({ ...plans[0]!, createdAt: 0 }, {
        runId: 'r', version: 1, plan: plan1, prediction: { roundMs: 120.5, rounds: 300 }, reason: 'initial', createdAt: 0, appliedAtRound: 0,
      });
      assert.equal(plans[1]!.appliedAtRound, null);
      assert.equal(plans[1]!.prediction, null);
      assert.equal(s.latestPlan('r')!.version, 2);

      refusedWithoutChange('DUPLICATE_PLAN', () => s.addPlan({ runId: 'r', version: 2, plan: {}, prediction: null, reason: 'again' }));
      refusedWithoutChange('UNKNOWN_RUN', () => s.addPlan({ runId: 'nope', version: 1, plan: {}, prediction: null, reason: '' }));
      refusedWithoutChange('INVALID_INPUT', () => s.addPlan({ runId: 'r', version: 3.5, plan: {}, prediction: null, reason: '' }));
      refusedWithoutChange('INVALID_INPUT', () => s.addPlan({ runId: 'r', version: 3, plan: { c1: NaN }, prediction: null, reason: '' }));
      refusedWithoutChange('UNKNOWN_PLAN', () => s.markPlanApplied('r', 9, 10));
      refusedWithoutChange('PLAN_ALREADY_APPLIED', () => s.markPlanApplied('r', 1, 5));
      refusedWithoutChange('INVALID_INPUT', () => s.markPlanApplied('r', 2, -1));
    });
  });

  describe('round metrics', () => {
    beforeEach(() => s.createRun({ id: 'r', name: 'r', config: {} }));

    it('round-trips every field exactly, in round order', () => {
      const all = [0, 1, 2, 3, 4, 5, 6].map((i) => metrics(i));
      for (const m of [...all].reverse()) s.addRoundMetrics('r', m);
      assert.deepEqual(s.listRoundMetrics('r'), all);
      assert.deepEqual(s.listRoundMetrics('r', { sinceRound: 2 }), all.slice(3));
      assert.deepEqual(s.listRoundMetrics('r', { sinceRound: 2, limit: 2 }), all.slice(3, 5));
      assert.deepEqual(s.listRoundMetrics('r', { limit: 2 }), all.slice(5), 'without sinceRound: the last rounds');
      assert.deepEqual(s.listRoundMetrics('r', { sinceRound: -1, limit: 1 }), all.slice(0, 1));
      assert.deepEqual(s.listRoundMetrics('other'), []);
    });

    it('refuses a duplicate round and changes nothing', () => {
      s.addRoundMetrics('r', metrics(7));
      refusedWithoutChange('DUPLICATE_ROUND', () => s.addRoundMetrics('r', metrics(7, { loss: 0.001 })), /round 7/);
      assert.deepEqual(s.listRoundMetrics('r'), [metrics(7)]);
    });

    it('refuses bad metrics and changes nothing', () => {
      s.addRoundMetrics('r', metrics(0));
      const bad: [string, Partial<RoundMetrics> | Record<string, unknown>][] = [
        ['NaN loss', { loss: NaN }],
        ['infinite loss', { loss: Infinity }],
        ['NaN roundMs', { roundMs: NaN }],
        ['negative time', { edgeWaitMs: -1 }],
        ['accuracy > 1', { trainAccuracy: 1.2 }],
        ['NaN test accuracy', { testAccuracy: NaN }],
        ['fractional bytes', { bytesEdgeCloudUp: 10.5 }],
        ['negative round', { round: -1 }],
        ['fractional round', { round: 1.5 }],
        ['string samples', { samples: '12' }],
        ['missing devices', { devices: undefined }],
        ['non-boolean sync', { syncedEdges: 1 }],
        ['bad endedAt', { endedAt: NaN }],
      ];
      for (const [what, over] of bad) {
        const before = snapshot(path);
        assert.throws(() => s.addRoundMetrics('r', metrics(1, over as Partial<RoundMetrics>)), isStoreError('INVALID_INPUT'), what);
        assert.deepEqual(snapshot(path), before, what);
      }
      refusedWithoutChange('UNKNOWN_RUN', () => s.addRoundMetrics('nope', metrics(1)));
      assert.deepEqual(s.listRoundMetrics('r'), [metrics(0)]);
    });
  });

  describe('events', () => {
    it('appends and lists with run, level, sinceId and limit filters', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      s.createRun({ id: 'q', name: 'q', config: {} });
      const ids = [
        s.addEvent({ runId: null, level: 'info', kind: 'coordinator.start', nodeId: null, message: 'up', data: { port: 7070 } }),
        s.addEvent({ runId: 'r', level: 'debug', kind: 'round.start', nodeId: null, message: 'round 0', data: null, at: 1234 }),
        s.addEvent({ runId: 'r', level: 'warn', kind: 'device.late', nodeId: 'd3', message: 'late', data: { ms: 812 } }),
        s.addEvent({ runId: 'q', level: 'error', kind: 'edge.lost', nodeId: 'e1', message: 'lost', data: null }),
        s.addEvent({ runId: 'r', level: 'error', kind: 'run.failed', nodeId: null, message: 'boom', data: { stack: 'x' } }),
      ];
      assert.deepEqual([...ids].sort((a, b) => a - b), ids);
      const all = s.listEvents();
      assert.deepEqual(all.map((e) => e.id), ids);
      assert.deepEqual(all[1], { id: ids[1], runId: 'r', at: 1234, level: 'debug', kind: 'round.start', nodeId: null, message: 'round 0', data: null });
      assert.deepEqual(all[2]!.data, { ms: 812 });
      assert.deepEqual(s.listEvents({ runId: 'r' }).map((e) => e.id), [ids[1], ids[2], ids[4]]);
      assert.deepEqual(s.listEvents({ runId: 'r', level: 'warn' }).map((e) => e.id), [ids[2], ids[4]]);
      assert.deepEqual(s.listEvents({ level: 'error' }).map((e) => e.id), [ids[3], ids[4]]);
      assert.deepEqual(s.listEvents({ sinceId: ids[1] }).map((e) => e.id), ids.slice(2));
      assert.deepEqual(s.listEvents({ sinceId: ids[1], limit: 2 }).map((e) => e.id), ids.slice(2, 4));
      assert.deepEqual(s.listEvents({ limit: 2 }).map((e) => e.id), ids.slice(3), 'without sinceId: the last events');
      assert.deepEqual(s.listEvents({ runId: 'r', sinceId: ids[4] }), []);

      refusedWithoutChange('UNKNOWN_RUN', () => s.addEvent({ runId: 'nope', level: 'info', kind: 'k', nodeId: null, message: '', data: null }));
      refusedWithoutChange('INVALID_INPUT', () => s.addEvent({ runId: 'r', level: 'fatal' as never, kind: 'k', nodeId: null, message: '', data: null }));
      refusedWithoutChange('INVALID_INPUT', () => s.addEvent({ runId: 'r', level: 'info', kind: '', nodeId: null, message: '', data: null }));
      refusedWithoutChange('INVALID_INPUT', () => s.addEvent({ runId: 'r', level: 'info', kind: 'k', nodeId: null, message: '', data: { x: NaN } }));
      assert.throws(() => s.listEvents({ limit: 0 }), isStoreError('INVALID_INPUT'));
    });

    it('event ids never go back after a run is deleted', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      const last = s.addEvent({ runId: 'r', level: 'info', kind: 'k', nodeId: null, message: '', data: null });
      s.deleteRun('r');
      const next = s.addEvent({ runId: null, level: 'info', kind: 'k', nodeId: null, message: '', data: null });
      assert.ok(next > last);
    });
  });

  describe('checkpoints', () => {
    it('saves, replaces, finds the latest (per kind) and prunes periodic ones', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      assert.equal(s.latestCheckpoint('r'), undefined);
      const w = (n: number) => Buffer.from(new Float32Array([n, n + 0.5, -n]).buffer);
      const topo = JSON.stringify({ layers: [{ class: 'Conv2D' }] });
      s.saveCheckpoint({ runId: 'r', round: 10, kind: 'periodic', modelJson: topo, weights: w(10), accuracy: null });
      s.saveCheckpoint({ runId: 'r', round: 20, kind: 'periodic', modelJson: topo, weights: w(20), accuracy: 0.8 });
      s.saveCheckpoint({ runId: 'r', round: 20, kind: 'final', modelJson: topo, weights: w(21), accuracy: 0.81 });
      const latest = s.latestCheckpoint('r')!;
      assert.equal(latest.kind, 'final');
      assert.ok(Buffer.isBuffer(latest.weights));
      assert.deepEqual(latest.weights, w(21));
      assert.deepEqual({ ...latest, createdAt: 0 }, { runId: 'r', round: 20, kind: 'final', modelJson: topo, weights: w(21), accuracy: 0.81, createdAt: 0 });
      assert.equal(s.latestCheckpoint('r', 'periodic')!.accuracy, 0.8);

      s.saveCheckpoint({ runId: 'r', round: 20, kind: 'periodic', modelJson: topo, weights: new Uint8Array([1, 2, 3]) as Buffer, accuracy: 0.85 });
      const replaced = s.latestCheckpoint('r', 'periodic')!;
      assert.deepEqual([...replaced.weights], [1, 2, 3]);
      assert.equal(replaced.accuracy, 0.85);

      s.saveCheckpoint({ runId: 'r', round: 30, kind: 'periodic', modelJson: topo, weights: w(30), accuracy: null });
      assert.equal(s.prunePeriodicCheckpoints('r', 1), 2);
      assert.equal(s.latestCheckpoint('r', 'periodic')!.round, 30);
      assert.equal(s.latestCheckpoint('r', 'final')!.round, 20);

      refusedWithoutChange('UNKNOWN_RUN', () => s.saveCheckpoint({ runId: 'nope', round: 1, kind: 'final', modelJson: topo, weights: w(1), accuracy: null }));
      refusedWithoutChange('INVALID_INPUT', () => s.saveCheckpoint({ runId: 'r', round: 1, kind: 'best' as never, modelJson: topo, weights: w(1), accuracy: null }));
      refusedWithoutChange('INVALID_INPUT', () => s.saveCheckpoint({ runId: 'r', round: 1, kind: 'final', modelJson: '{not json', weights: w(1), accuracy: null }));
      refusedWithoutChange('INVALID_INPUT', () => s.saveCheckpoint({ runId: 'r', round: 1, kind: 'final', modelJson: topo, weights: [1, 2] as never, accuracy: null }));
      refusedWithoutChange('INVALID_INPUT', () => s.saveCheckpoint({ runId: 'r', round: 1, kind: 'final', modelJson: topo, weights: w(1), accuracy: NaN }));
    });
  });

  describe('transactions and deletion', () => {
    it('transaction commits all or nothing', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      const before = snapshot(path);
      assert.throws(
        () =>
          s.transaction(() => {
            s.addRoundMetrics('r', metrics(0));
            s.addEvent({ runId: 'r', level: 'info', kind: 'round.end', nodeId: null, message: '', data: null });
            s.addRoundMetrics('r', metrics(0)); // duplicate: the whole transaction rolls back
          }),
        isStoreError('DUPLICATE_ROUND'),
      );
      assert.deepEqual(snapshot(path), before);

      const n = s.transaction(() => {
        s.addRoundMetrics('r', metrics(0));
        try {
          s.addRoundMetrics('r', metrics(0)); // refused alone; the caught failure does not poison the outer transaction
        } catch (e) {
          assert.ok(e instanceof StoreError && e.code === 'DUPLICATE_ROUND');
        }
        s.addRoundMetrics('r', metrics(1));
        return 2;
      });
      assert.equal(n, 2);
      assert.deepEqual(s.listRoundMetrics('r').map((m) => m.round), [0, 1]);
    });

    it('refuses an async transaction function', () => {
      assert.throws(() => s.transaction((async () => 1) as never), /cannot return a promise/);
    });

    it('a write blocked by another connection beyond the busy timeout fails with BUSY and changes nothing', () => {
      s.createRun({ id: 'r', name: 'r', config: {} });
      const b = Store.open(path, { busyTimeoutMs: 50 });
      const other = new Database(path);
      try {
        other.exec('BEGIN IMMEDIATE');
        const t0 = Date.now();
        assert.throws(() => b.addRoundMetrics('r', metrics(0)), isStoreError('BUSY'));
        assert.ok(Date.now() - t0 >= 40, 'waited for the busy timeout');
        other.exec('ROLLBACK');
        assert.deepEqual(b.listRoundMetrics('r'), []);
        b.addRoundMetrics('r', metrics(0)); // fine once the lock is gone
        assert.equal(s.listRoundMetrics('r').length, 1);
      } finally {
        other.close();
        b.close();
      }
    });

    it('deleteRun cascades to every child table and leaves other runs alone', () => {
      const fill = (id: string) => {
        s.createRun({ id, name: id, config: { id } });
        s.upsertNode({ runId: id, nodeId: 'd1', role: 'device', parentId: 'e1', backend: null, host: null, status: 'connected', samples: 1 });
        s.addCapacity(id, 'd1', { x: 1 });
        s.addPlan({ runId: id, version: 1, plan: {}, prediction: null, reason: 'r' });
        s.addRoundMetrics(id, metrics(0));
        s.addEvent({ runId: id, level: 'info', kind: 'k', nodeId: null, message: '', data: null });
        s.saveCheckpoint({ runId: id, round: 0, kind: 'final', modelJson: '{}', weights: Buffer.from([1]), accuracy: null });
        s.saveSyncCheckpoint(id, { round: 0, planVersion: 1, plan: {}, state: {}, deviceWeights: [], edgeWeights: [], topWeights: [new Float32Array([1])] });
      };
      fill('a');
      fill('b');
      s.addCapacity(null, 'd9', {});
      s.deleteRun('a');
      const snap = snapshot(path);
      for (const t of ['runs', 'nodes', 'plans', 'round_metrics', 'events', 'checkpoints', 'sync_checkpoints']) {
        assert.deepEqual(
          new Set((snap[t] as { id?: string; run_id?: string }[]).map((r) => r.run_id ?? r.id)),
          new Set(['b']),
          t,
        );
      }
      assert.deepEqual((snap['capacity_reports'] as { run_id: string | null }[]).map((r) => r.run_id), ['b', null]);
      assert.equal(s.getRun('a'), undefined);
      refusedWithoutChange('UNKNOWN_RUN', () => s.deleteRun('a'));
    });
  });
});
