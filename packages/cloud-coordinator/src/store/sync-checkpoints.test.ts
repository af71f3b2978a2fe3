import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { seededRandom } from '@hsfl/runtime';
import { MIGRATIONS, LATEST_SCHEMA_VERSION, applyMigrations } from './migrations.js';
import { Store, StoreError, type StoreErrorCode, type SyncCheckpointInput } from './index.js';
import { isStoreError, metrics, refusedWithoutChange as refusedWithoutChangeIn, snapshot, tempDir } from './test-helpers.js';

/** Deterministic uint32s (the runtime's seeded generator) so a failure reproduces. */
function prng(seed: number): () => number {
  const next = seededRandom(seed);
  return () => Math.floor(next() * 2 ** 32) >>> 0;
}

/** Random float32 bit patterns over the whole range (subnormals, -0, ±Infinity, huge and tiny), NaN excluded. */
function randomTensor(next: () => number, n: number): Float32Array {
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let b: number;
    do b = next();
    while ((b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0); // NaN
    bits[i] = b;
  }
  return new Float32Array(bits.buffer);
}

function bytesOf(t: Float32Array): Buffer {
  return Buffer.from(t.buffer, t.byteOffset, t.byteLength);
}

/** Bit-for-bit equality of two weight lists (deepEqual alone would also accept -0 for 0 in some paths). */
function assertSameWeights(actual: Float32Array[], expected: Float32Array[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: tensor count`);
  actual.forEach((t, i) => {
    assert.ok(t instanceof Float32Array, `${what}[${i}] is a Float32Array`);
    assert.equal(t.length, expected[i]!.length, `${what}[${i}] length`);
    assert.ok(bytesOf(t).equals(bytesOf(expected[i]!)), `${what}[${i}] bit-exact`);
  });
  assert.deepEqual(actual, expected, what);
}

function checkpoint(round: number, over: Partial<SyncCheckpointInput> = {}): SyncCheckpointInput {
  const next = prng(round + 1);
  return {
    round,
    planVersion: 1,
    plan: { model: 'mlp-mnist', c1: 1, c2: 2, i1: 2, i2: 4, version: 1 },
    state: { planSince: 0, lastTest: round > 0 ? { round: round - 1, loss: 1.5, accuracy: 0.5 } : null, gradStats: [0.25, 1e-7] },
    deviceWeights: [randomTensor(next, 12), randomTensor(next, 3)],
    edgeWeights: [randomTensor(next, 7)],
    topWeights: [randomTensor(next, 5), randomTensor(next, 1)],
    ...over,
  };
}

function assertIntegrity(path: string): void {
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.deepEqual(db.pragma('foreign_key_check'), []);
  } finally {
    db.close();
  }
}

describe('Store: sync checkpoints and crash resume', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let s: Store;
  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'hsfl.db');
    s = Store.open(path);
    s.createRun({ id: 'r', name: 'r', config: {} });
  });
  afterEach(() => {
    s.close();
    assertIntegrity(path);
    tmp.cleanup();
  });

  function refusedWithoutChange(code: StoreErrorCode, fn: () => unknown, message?: RegExp): void {

    refusedWithoutChangeIn(path, code, fn, message);

  }

  describe('round trip', () => {
    it('returns every weight bit for bit, with plan, state and the empty device tier of c1 = 0', () => {
      const next = prng(42);
      const big = randomTensor(next, 100_003);
      // Views into a larger buffer at odd offsets: only the viewed elements are stored.
      const backing = randomTensor(next, 64);
      const view = new Float32Array(backing.buffer, 4 * 3, 17);
      const specials = new Float32Array([0, -0, Infinity, -Infinity, 1.401298464324817e-45, -3.4028234663852886e38, 0.1]);
      const c = checkpoint(0, {
        deviceWeights: [], // c1 = 0: devices hold no layers
        edgeWeights: [big, new Float32Array(0), view],
        topWeights: [specials],
      });
      const t0 = Date.now();
      s.saveSyncCheckpoint('r', c);
      s.close();
      s = Store.open(path); // read back through a fresh connection, not a cache
      const got = s.latestSyncCheckpoint('r')!;
      assert.ok(got.createdAt >= t0 && got.createdAt <= Date.now());
      assert.equal(got.runId, 'r');
      assert.equal(got.round, 0);
      assert.equal(got.planVersion, 1);
      assert.deepEqual(got.plan, c.plan);
      assert.deepEqual(got.state, c.state);
      assertSameWeights(got.deviceWeights, [], 'deviceWeights');
      assertSameWeights(got.edgeWeights, [big, new Float32Array(0), view], 'edgeWeights');
      assertSameWeights(got.topWeights, [specials], 'topWeights');
      assert.ok(Object.is(got.topWeights[0]![1], -0), '-0 stays -0');
    });

    it('stores each tier as little-endian float32 with its lengths', () => {
      s.saveSyncCheckpoint('r', checkpoint(0, { deviceWeights: [new Float32Array([1, -2]), new Float32Array([0.5])], edgeWeights: [], topWeights: [] }));
      const db = new Database(path, { readonly: true });
      try {
        const row = db.prepare('SELECT device_lengths, device_weights, edge_lengths, edge_weights FROM sync_checkpoints').get() as {
          device_lengths: string;
          device_weights: Buffer;
          edge_lengths: string;
          edge_weights: Buffer;
        };
        assert.equal(row.device_lengths, '[2,1]');
        assert.equal(row.device_weights.toString('hex'), '0000803f' + '000000c0' + '0000003f');
        assert.equal(row.edge_lengths, '[]');
        assert.equal(row.edge_weights.length, 0);
      } finally {
        db.close();
      }
    });

    it('answers undefined for a run without checkpoints or an unknown run', () => {
      assert.equal(s.latestSyncCheckpoint('r'), undefined);
      assert.equal(s.latestSyncCheckpoint('nope'), undefined);
    });

    it('refuses bad checkpoints and changes nothing', () => {
      const bad: [string, Partial<SyncCheckpointInput> | Record<string, unknown>, RegExp][] = [
        ['Float64Array weights', { edgeWeights: [new Float64Array(2)] }, /edgeWeights\[0\] must be a Float32Array/],
        ['plain array weights', { topWeights: [[1, 2]] }, /topWeights\[0\] must be a Float32Array/],
        ['missing tier', { deviceWeights: undefined }, /deviceWeights must be an array/],
        ['negative round', { round: -1 }, /round/],
        ['fractional plan version', { planVersion: 1.5 }, /planVersion/],
        ['state with NaN', { state: { x: NaN } }, /state\.x must be a finite number/],
        ['undefined plan', { plan: undefined }, /plan/],
      ];
      for (const [what, over, message] of bad) {
        refusedWithoutChange('INVALID_INPUT', () => s.saveSyncCheckpoint('r', { ...checkpoint(0), ...over } as SyncCheckpointInput), message);
        assert.equal(s.latestSyncCheckpoint('r'), undefined, what);
      }
      refusedWithoutChange('UNKNOWN_RUN', () => s.saveSyncCheckpoint('nope', checkpoint(0)));
      refusedWithoutChange('INVALID_INPUT', () => s.saveSyncCheckpoint('r', null as never));
    });

    it('reports a stored checkpoint whose lengths do not match its bytes as CORRUPT', () => {
      s.saveSyncCheckpoint('r', checkpoint(0));
      const db = new Database(path);
      try {
        db.prepare(`UPDATE sync_checkpoints SET top_lengths = '[5, 2]'`).run();
      } finally {
        db.close();
      }
      assert.throws(() => s.latestSyncCheckpoint('r'), isStoreError('CORRUPT', /top tier/));
    });
  });

  describe('commitRound', () => {
    it('writes the metrics and the checkpoint together; without a checkpoint, only the metrics', () => {
      s.commitRound('r', metrics(0));
      assert.equal(s.latestSyncCheckpoint('r'), undefined);
      const c = checkpoint(2);
      s.commitRound('r', metrics(1), c);
      assert.deepEqual(s.listRoundMetrics('r'), [metrics(0), metrics(1)]);
      const got = s.latestSyncCheckpoint('r')!;
      assert.equal(got.round, 2);
      assertSameWeights(got.topWeights, c.topWeights, 'topWeights');
    });

    it('a duplicate round throws DUPLICATE_ROUND and the checkpoint is not written', () => {
      s.commitRound('r', metrics(0), checkpoint(1));
      refusedWithoutChange('DUPLICATE_ROUND', () => s.commitRound('r', metrics(0, { loss: 9 }), checkpoint(1, { state: { other: true } })), /round 0/);
      assert.deepEqual(s.listRoundMetrics('r'), [metrics(0)]);
      assert.notDeepEqual(s.latestSyncCheckpoint('r')!.state, { other: true });
    });

    it('a bad checkpoint leaves the metrics unwritten too', () => {
      s.commitRound('r', metrics(0), checkpoint(1));
      const before = snapshot(path);
      for (const c of [
        checkpoint(2, { edgeWeights: [new Float64Array(3) as unknown as Float32Array] }),
        checkpoint(2, { state: { f: () => 1 } }),
        checkpoint(5), // does not resume at metrics.round + 1
        checkpoint(0), // older than the latest checkpoint
      ]) {
        assert.throws(() => s.commitRound('r', metrics(1), c), isStoreError('INVALID_INPUT'));
        assert.deepEqual(snapshot(path), before);
      }
      refusedWithoutChange('INVALID_INPUT', () => s.commitRound('r', metrics(1, { loss: NaN }), checkpoint(2)), /loss/);
      assert.deepEqual(s.listRoundMetrics('r'), [metrics(0)]);
      assert.equal(s.latestSyncCheckpoint('r')!.round, 1);
    });

    it('inside an outer transaction that fails, neither table is changed', () => {
      const before = snapshot(path);
      assert.throws(
        () =>
          s.transaction(() => {
            s.commitRound('r', metrics(0), checkpoint(1));
            assert.equal(s.latestSyncCheckpoint('r')!.round, 1, 'visible inside the transaction');
            throw new Error('crash after commitRound, before the outer commit');
          }),
        /crash after commitRound/,
      );
      assert.deepEqual(snapshot(path), before);
    });

    it('keeps only the latest two sync checkpoints of a run, and leaves other runs alone', () => {
      s.createRun({ id: 'other', name: 'other', config: {} });
      s.saveSyncCheckpoint('other', checkpoint(0));
      s.saveSyncCheckpoint('r', checkpoint(0));
      for (let r = 0; r < 6; r++) s.commitRound('r', metrics(r), checkpoint(r + 1));
      const rounds = (snapshot(path)['sync_checkpoints'] as { run_id: string; round: number }[]).map((x) => `${x.run_id}@${x.round}`).sort();
      assert.deepEqual(rounds, ['other@0', 'r@5', 'r@6']);
      // The same round again replaces it (still two kept); an older one is refused.
      s.saveSyncCheckpoint('r', checkpoint(6, { state: { replaced: true } }));
      assert.deepEqual(s.latestSyncCheckpoint('r')!.state, { replaced: true });
      refusedWithoutChange('INVALID_INPUT', () => s.saveSyncCheckpoint('r', checkpoint(4)), /roll back first/);
      assert.equal((snapshot(path)['sync_checkpoints'] as unknown[]).length, 3);
    });
  });

  describe('rollbackToCheckpoint', () => {
    /**
     * A run that crashed in round 10: plan v1 from round 0, v2 applied at 4,
     * v3 at 9, v4 recorded but not applied; sync checkpoints at 0, 8 (plan v2)
     * and 10 (plan v3), of which 8 and 10 are kept; model checkpoints at
     * rounds 8, 9 and 10.
     */
    function crashedRun(id: string): void {
      if (!s.getRun(id)) s.createRun({ id, name: id, config: {} });
      s.addPlan({ runId: id, version: 1, plan: { v: 1 }, prediction: null, reason: 'configured' });
      s.markPlanApplied(id, 1, 0);
      s.saveSyncCheckpoint(id, checkpoint(0));
      for (let r = 0; r < 10; r++) {
        if (r === 4) {
          s.addPlan({ runId: id, version: 2, plan: { v: 2 }, prediction: null, reason: 'planner' });
          s.markPlanApplied(id, 2, 4);
        }
        if (r === 9) {
          s.addPlan({ runId: id, version: 3, plan: { v: 3 }, prediction: null, reason: 'planner' });
          s.markPlanApplied(id, 3, 9);
        }
        const sync = r === 7 || r === 9;
        s.commitRound(id, metrics(r, { planVersion: r < 4 ? 1 : r < 9 ? 2 : 3 }), sync ? checkpoint(r + 1, { planVersion: r < 9 ? 2 : 3 }) : undefined);
      }
      s.addPlan({ runId: id, version: 4, plan: { v: 4 }, prediction: null, reason: 'pending' });
      for (const round of [8, 9]) s.saveCheckpoint({ runId: id, round, kind: 'periodic', modelJson: '{}', weights: Buffer.from([round]), accuracy: null });
      s.saveCheckpoint({ runId: id, round: 10, kind: 'final', modelJson: '{}', weights: Buffer.from([10]), accuracy: 0.5 });
    }

    it('removes the rounds, plans and checkpoints after the checkpoint and says which', () => {
      crashedRun('r');
      crashedRun('other');
      const otherBefore = JSON.stringify([s.listRoundMetrics('other'), s.listPlans('other').map((p) => [p.version, p.appliedAtRound]), s.latestSyncCheckpoint('other'), s.latestCheckpoint('other')]);

      const res = s.rollbackToCheckpoint('r', 8, 2);
      assert.deepEqual(res, { roundsRemoved: [8, 9], plansRemoved: [3, 4] });
      assert.deepEqual(s.listRoundMetrics('r').map((m) => m.round), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.deepEqual(s.listPlans('r').map((p) => [p.version, p.appliedAtRound]), [[1, 0], [2, 4]]);
      assert.equal(s.latestSyncCheckpoint('r')!.round, 8);
      assert.equal(s.latestCheckpoint('r')!.round, 8, 'model checkpoints of later rounds are gone');
      assert.equal(s.latestCheckpoint('r', 'final'), undefined);
      assert.equal(
        JSON.stringify([s.listRoundMetrics('other'), s.listPlans('other').map((p) => [p.version, p.appliedAtRound]), s.latestSyncCheckpoint('other'), s.latestCheckpoint('other')]),
        otherBefore,
        'the other run is untouched',
      );

      // Resuming: round 8 can be recorded again (once), with the next checkpoint.
      s.commitRound('r', metrics(8, { planVersion: 2 }), checkpoint(9, { planVersion: 2 }));
      assert.throws(() => s.commitRound('r', metrics(8)), isStoreError('DUPLICATE_ROUND'));
      // Nothing left to remove: a second rollback to the same point removes just the resumed round.
      assert.deepEqual(s.rollbackToCheckpoint('r', 9, 2), { roundsRemoved: [], plansRemoved: [] });
      assert.deepEqual(s.rollbackToCheckpoint('r', 8, 2), { roundsRemoved: [8], plansRemoved: [] });
      assert.equal(s.latestSyncCheckpoint('r')!.round, 8);
    });

    it('clears the applied round of a kept plan applied after the checkpoint', () => {
      crashedRun('r');
      // Plan v3 is kept (the checkpoint's plan version is 3) but was applied at round 9 > 8.
      const res = s.rollbackToCheckpoint('r', 8, 3);
      assert.deepEqual(res, { roundsRemoved: [8, 9], plansRemoved: [4] });
      assert.deepEqual(s.listPlans('r').map((p) => [p.version, p.appliedAtRound]), [[1, 0], [2, 4], [3, null]]);
    });

    it('rolls back to round 0 (the checkpoint saved before training)', () => {
      crashedRun('r');
      const res = s.rollbackToCheckpoint('r', 0, 1);
      assert.deepEqual(res, { roundsRemoved: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], plansRemoved: [2, 3, 4] });
      assert.deepEqual(s.listRoundMetrics('r'), []);
      assert.deepEqual(s.listPlans('r').map((p) => [p.version, p.appliedAtRound]), [[1, 0]]);
      assert.equal(s.latestSyncCheckpoint('r'), undefined, 'the pruned round-0 checkpoint is not brought back');
    });

    it('refuses an unknown run and bad arguments, changing nothing', () => {
      crashedRun('r');
      refusedWithoutChange('UNKNOWN_RUN', () => s.rollbackToCheckpoint('nope', 0, 0));
      refusedWithoutChange('INVALID_INPUT', () => s.rollbackToCheckpoint('r', -1, 0));
      refusedWithoutChange('INVALID_INPUT', () => s.rollbackToCheckpoint('r', 8, 1.5));
    });
  });

  describe('interrupted runs', () => {
    it('lists running and paused runs, oldest first', () => {
      const status = ['created', 'running', 'completed', 'paused', 'failed', 'stopped', 'running'] as const;
      status.forEach((st, i) => {
        s.createRun({ id: `x${i}`, name: st, config: {} });
        if (st !== 'created') s.setRunStatus(`x${i}`, st === 'paused' ? 'running' : st);
        if (st === 'paused') s.setRunStatus(`x${i}`, 'paused');
      });
      assert.deepEqual(s.interruptedRuns().map((r) => [r.id, r.status]), [['x1', 'running'], ['x3', 'paused'], ['x6', 'running']]);
    });

    it('failInterruptedRun marks a running or paused run failed with the reason; refuses any other run', () => {
      s.setRunStatus('r', 'running');
      s.setRunStatus('r', 'paused');
      const t0 = Date.now();
      const row = s.failInterruptedRun('r', 'coordinator host lost');
      assert.equal(row.status, 'failed');
      assert.equal(row.error, 'coordinator host lost');
      assert.ok(row.endedAt !== null && row.endedAt >= t0);
      assert.deepEqual(s.getRun('r'), row);
      assert.deepEqual(s.interruptedRuns(), []);

      refusedWithoutChange('INVALID_TRANSITION', () => s.failInterruptedRun('r', 'again'), /is failed; only a running or paused run/);
      s.createRun({ id: 'fresh', name: 'fresh', config: {} });
      refusedWithoutChange('INVALID_TRANSITION', () => s.failInterruptedRun('fresh', 'x'), /is created/);
      s.createRun({ id: 'done', name: 'done', config: {} });
      s.setRunStatus('done', 'completed');
      refusedWithoutChange('INVALID_TRANSITION', () => s.failInterruptedRun('done', 'x'), /is completed/);
      refusedWithoutChange('UNKNOWN_RUN', () => s.failInterruptedRun('nope', 'x'));
      s.createRun({ id: 'live', name: 'live', config: {} });
      s.setRunStatus('live', 'running');
      refusedWithoutChange('INVALID_INPUT', () => s.failInterruptedRun('live', ''), /reason/);
    });
  });
});

describe('sync checkpoint migration', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('applies on a database written by schema version 1, keeping its data', () => {
    assert.ok(LATEST_SCHEMA_VERSION >= 2);
    const path = join(tmp.dir, 'old.db');
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      assert.equal(applyMigrations(db, MIGRATIONS.slice(0, 1)), 1);
      db.prepare(`INSERT INTO runs (id, name, status, config, created_at) VALUES ('old', 'old', 'running', '{}', 1)`).run();
    } finally {
      db.close();
    }
    const s = Store.open(path);
    try {
      assert.equal(s.schemaVersion, LATEST_SCHEMA_VERSION);
      assert.deepEqual(s.interruptedRuns().map((r) => r.id), ['old']);
      s.commitRound('old', metrics(0), checkpoint(1));
      assert.equal(s.latestSyncCheckpoint('old')!.round, 1);
    } finally {
      s.close();
    }
    const snap = snapshot(path);
    assert.deepEqual(snap['#user_version'], [LATEST_SCHEMA_VERSION]);
    assert.deepEqual((snap['schema_migrations'] as { version: number }[]).map((m) => m.version), MIGRATIONS.map((m) => m.version));
    assertIntegrity(path);
  });
});
