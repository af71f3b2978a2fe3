import { strict as assert } from 'node:assert';
import { initBackend, loadMnist, BatchIterator, concatBatches, tierWeightShapes } from '@hsfl/runtime';
import { startInProcess, maxAbsDiff, deviceSeed, until, type InProcessFederation } from './helpers/inproc.js';
import { HsflReference, centralizedSgd, type ReferenceConfig } from './helpers/reference.js';

const MODEL = 'cnn-mnist';
const LR = 0.05;
const SEED = 3;
const TOL = 1e-4;

interface Snapshot {
  round: number;
  devices: Float32Array[][];
  edges: Float32Array[][];
  /** The cloud's own copy: units [c2, L) of its assembled model. */
  top: Float32Array[];
}

/** Records every live copy right after the given rounds (the round event follows every device's and edge's step). */
function snapshotAt(fed: InProcessFederation, rounds: number[], c2: number): Snapshot[] {
  const out: Snapshot[] = [];
  fed.coordinator.on('round', (r: { round: number }) => {
    if (!rounds.includes(r.round)) return;
    out.push({
      round: r.round,
      devices: fed.devices.map((d) => d.weights),
      edges: fed.edges.map((e) => e.weights),
      top: fed.coordinator.topWeights(),
    });
  });
  return out;
}

function compareSnapshot(what: string, s: Snapshot, ref: HsflReference): void {
  s.devices.forEach((w, d) => {
    const diff = maxAbsDiff(w, ref.deviceWeights(d));
    assert.ok(diff < TOL, `${what}, after round ${s.round}: device ${d} differs from the reference by ${diff}`);
  });
  s.edges.forEach((w, e) => {
    const diff = maxAbsDiff(w, ref.edgeWeights(e));
    assert.ok(diff < TOL, `${what}, after round ${s.round}: edge ${e} differs from the reference by ${diff}`);
  });
  const diff = maxAbsDiff(s.top, ref.topWeights());
  assert.ok(diff < TOL, `${what}, after round ${s.round}: the cloud's top differs from the reference by ${diff}`);
}

/** Unequal shards: 5, 200 and 3 samples, so that with batch 8 the devices deliver 5, 8 and 3 samples per round. */
function unequalShards(): Int32Array[] {
  const range = (a: number, n: number) => Int32Array.from({ length: n }, (_, i) => a + i);
  return [range(0, 5), range(100, 200), range(400, 3)];
}

describe('the real roles against an independent HSFL reference (DESIGN §2)', function () {
  this.timeout(120000);
  const BATCH = 8;

  before(async () => {
    await initBackend();
    loadMnist();
  });

  it('devices with unequal batches (5, 8, 3 of batch 8), one edge, I1 = 1: equals centralized SGD on the concatenated batches', async () => {
    const rounds = 6;
    const shards = unequalShards();
    const fed = await startInProcess(
      { model: MODEL, c1: 2, c2: 5, i1: 1, i2: 1, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED },
      { devicesPerEdge: [3], shards },
    );
    try {
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      assert.equal(summary.rounds, rounds);
      const metrics = fed.store.listRoundMetrics(summary.runId);
      assert.ok(metrics.every((m) => m.samples === 16), `every round carries 5 + 8 + 3 samples: ${metrics.map((m) => m.samples).join(',')}`);
      const iters = shards.map((s, i) => new BatchIterator(fed.data, s, BATCH, deviceSeed(i)));
      const steps = Array.from({ length: rounds }, () => concatBatches(iters.map((it) => it.next())));
      const ref = centralizedSgd(MODEL, SEED, LR, steps);
      const diff = maxAbsDiff(fed.coordinator.globalWeights(), ref);
      assert.ok(diff < TOL, `max |hsfl - centralized| = ${diff}`);
    } finally {
      await fed.close();
    }
  });

  it('devices with unequal batches on two edges (devices 5 + 8 | 3 samples), I1 = 2, I2 = 2: every copy equals the reference', async () => {
    const rounds = 6;
    const shards = unequalShards();
    const cfg: ReferenceConfig = { model: MODEL, c1: 2, c2: 5, i1: 2, i2: 2, lr: LR, seed: SEED };
    const fed = await startInProcess(
      { model: MODEL, c1: cfg.c1, c2: cfg.c2, i1: cfg.i1, i2: cfg.i2, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED },
      { devicesPerEdge: [2, 1], shards },
    );
    const ref = new HsflReference(cfg, [2, 1], shards.map((s, i) => new BatchIterator(fed.data, s, BATCH, deviceSeed(i))));
    try {
      // Round 2 (k = 3) syncs nothing: every copy has its own weights there.
      const snaps = snapshotAt(fed, [2], cfg.c2);
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      assert.equal(summary.rounds, rounds);
      ref.run(3, false);
      assert.equal(snaps.length, 1);
      compareSnapshot('unequal batches', snaps[0]!, ref);
      ref.run(rounds - 3, true);
      const diff = maxAbsDiff(fed.coordinator.globalWeights(), ref.global());
      assert.ok(diff < TOL, `final global: max |hsfl - reference| = ${diff}`);
    } finally {
      ref.dispose();
      await fed.close();
    }
  });

  it('two edges (2 + 1 devices), c1 = 2, c2 = 5, I1 = 2, I2 = 3: every device, edge and cloud copy equals the reference, between syncs and at the end', async () => {
    const rounds = 8;
    const cfg: ReferenceConfig = { model: MODEL, c1: 2, c2: 5, i1: 2, i2: 3, lr: LR, seed: SEED };
    const fed = await startInProcess(
      { model: MODEL, c1: cfg.c1, c2: cfg.c2, i1: cfg.i1, i2: cfg.i2, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED },
      { devicesPerEdge: [2, 1], partition: 'dirichlet', alpha: 0.5 },
    );
    const ref = new HsflReference(cfg, [2, 1], fed.shards.map((s, i) => new BatchIterator(fed.data, s, BATCH, deviceSeed(i))));
    try {
      // Rounds 4 and 6 (k = 5, 7) sync neither tier; they follow a device sync (k = 4, 6) and an edge sync (k = 3, 6).
      const snaps = snapshotAt(fed, [4, 6], cfg.c2);
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      assert.equal(summary.rounds, rounds);
      assert.equal(snaps.length, 2);
      ref.run(5, false);
      // The copies must really differ between syncs, or the comparison proves little.
      assert.ok(maxAbsDiff(ref.deviceWeights(0), ref.deviceWeights(2)) > 1e-5, 'device copies diverge between syncs');
      assert.ok(maxAbsDiff(ref.edgeWeights(0), ref.edgeWeights(1)) > 1e-5, 'edge copies diverge between syncs');
      compareSnapshot('I1 = 2, I2 = 3', snaps[0]!, ref);
      ref.run(2, false);
      compareSnapshot('I1 = 2, I2 = 3', snaps[1]!, ref);
      ref.run(1, true);
      const diff = maxAbsDiff(fed.coordinator.globalWeights(), ref.global());
      assert.ok(diff < TOL, `final global: max |hsfl - reference| = ${diff}`);
      // After the run every copy holds the synced tiers (the last averages may still be on their way down).
      const g = ref.global();
      const nDev = tierWeightShapes(MODEL, 0, cfg.c1).length;
      const nEdge = tierWeightShapes(MODEL, cfg.c1, cfg.c2).length;
      await until(
        () => fed.devices.every((d) => maxAbsDiff(d.weights, g.slice(0, nDev)) < TOL) && fed.edges.every((e) => maxAbsDiff(e.weights, g.slice(nDev, nDev + nEdge)) < TOL),
        10000, 'every device and edge copy to hold the final synced tiers',
      );
    } finally {
      ref.dispose();
      await fed.close();
    }
  });
});
