import { strict as assert } from 'node:assert';
import { initBackend, loadMnist, BatchIterator, evaluate, tierWeightShapes, modelInfo } from '@hsfl/runtime';
import { startInProcess, maxAbsDiff, deviceSeed, type InProcessFederation } from './helpers/inproc.js';
import { HsflReference, splitWeightBlob, type ReferenceConfig } from './helpers/reference.js';
import type { RunSummary } from '@hsfl/cloud-coordinator';

const MODEL = 'cnn-mnist';
const LR = 0.05;
const SEED = 3;
const BATCH = 8;
const TOL = 1e-4;

/**
 * DESIGN §2, Evaluation: "an evaluation, a stop, a target reached and every
 * checkpoint force or wait for a full sync: a scored or stored model is one
 * that existed". With I1 = 3 and I2 = 4, round k = 5 syncs neither tier, so a
 * run that ends there must still end on a model whose device tier is every
 * device's copy and whose edge tier is every edge's copy.
 */
describe('a run that ends between syncs stores and scores a model that existed', function () {
  this.timeout(120000);
  const cfg: ReferenceConfig = { model: MODEL, c1: 2, c2: 5, i1: 3, i2: 4, lr: LR, seed: SEED };
  const devicesPerEdge = [2, 2];
  const L = () => modelInfo(MODEL).numUnits;

  before(async () => {
    await initBackend();
    loadMnist();
  });

  function storedFinal(fed: InProcessFederation, runId: string): { weights: Float32Array[]; accuracy: number | null } {
    const ckpt = fed.store.latestCheckpoint(runId, 'final');
    assert.ok(ckpt, 'a final checkpoint is stored');
    const sizes = tierWeightShapes(MODEL, 0, L()).map((s) => s.reduce((a, b) => a * b, 1));
    return { weights: splitWeightBlob(ckpt.weights, sizes), accuracy: ckpt.accuracy };
  }

  /** Waits (briefly: the last averages may be on their way down) until every live copy holds the stored tiers; fails with the differences. */
  async function expectCopiesHold(fed: InProcessFederation, w: Float32Array[]): Promise<void> {
    const nDev = tierWeightShapes(MODEL, 0, cfg.c1).length;
    const nEdge = tierWeightShapes(MODEL, cfg.c1, cfg.c2).length;
    const dev = w.slice(0, nDev);
    const edge = w.slice(nDev, nDev + nEdge);
    const diffs = () => ({
      devices: fed.devices.map((d) => maxAbsDiff(d.weights, dev)),
      edges: fed.edges.map((e) => maxAbsDiff(e.weights, edge)),
    });
    const end = Date.now() + 5000;
    let d = diffs();
    while ([...d.devices, ...d.edges].some((x) => x > 1e-6) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      d = diffs();
    }
    assert.ok(d.devices.every((x) => x <= 1e-6), `the stored device tier is no device's copy: max |stored - device i| = ${d.devices.join(', ')}`);
    assert.ok(d.edges.every((x) => x <= 1e-6), `the stored edge tier is no edge's copy: max |stored - edge j| = ${d.edges.join(', ')}`);
  }

  function expectReference(fed: InProcessFederation, rounds: number, w: Float32Array[]): void {
    const ref = new HsflReference(cfg, devicesPerEdge, fed.shards.map((s, i) => new BatchIterator(fed.data, s, BATCH, deviceSeed(i))));
    try {
      ref.run(rounds, true);
      const diff = maxAbsDiff(w, ref.global());
      assert.ok(diff < TOL, `stored final model vs the reference after ${rounds} rounds and a full sync: max diff ${diff}`);
    } finally {
      ref.dispose();
    }
  }

  /**
   * The stored final model is the synced tiers every copy holds, its stored
   * accuracy (checkpoint, run row, summary) is its own, and it equals the
   * reference after the run's rounds. Returns that accuracy.
   */
  async function expectConsistentFinal(fed: InProcessFederation, summary: RunSummary): Promise<number> {
    const { weights, accuracy } = storedFinal(fed, summary.runId);
    await expectCopiesHold(fed, weights);
    const own = evaluate(MODEL, weights, loadMnist().test).accuracy;
    assert.equal(accuracy, own, 'the checkpoint\'s accuracy is that of its weights');
    assert.equal(fed.store.getRun(summary.runId)!.finalAccuracy, own, 'the run\'s final accuracy is that of the stored model');
    assert.equal(summary.testAccuracy, own);
    expectReference(fed, summary.rounds, weights);
    return own;
  }

  it('a stop requested after round k = 5 (I1 = 3, I2 = 4): the stored final model is the synced tiers every copy holds, and its stored accuracy is its own', async () => {
    const fed = await startInProcess(
      { model: MODEL, c1: cfg.c1, c2: cfg.c2, i1: cfg.i1, i2: cfg.i2, batchSize: BATCH, lr: LR, rounds: 40, evalEvery: 0, seed: SEED },
      { devicesPerEdge },
    );
    try {
      fed.coordinator.on('round', (r: { round: number }) => {
        if (r.round === 4) fed.coordinator.requestStop();
      });
      const summary = await fed.run();
      assert.equal(summary.status, 'stopped');
      // The stop ends the run after the current round, or after one more round that syncs every tier.
      assert.ok(summary.rounds === 5 || summary.rounds === 6, `stopped after ${summary.rounds} rounds`);
      await expectConsistentFinal(fed, summary);
    } finally {
      await fed.close();
    }
  });

  it('a target accuracy crossed at an evaluation of round k = 5 (evalEvery 5, I1 = 3, I2 = 4): the evaluation that stops the run scores the stored model, which every copy holds', async () => {
    const fed = await startInProcess(
      { model: MODEL, c1: cfg.c1, c2: cfg.c2, i1: cfg.i1, i2: cfg.i2, batchSize: BATCH, lr: LR, rounds: 40, evalEvery: 5, seed: SEED, targetAccuracy: 0.01 },
      { devicesPerEdge },
    );
    try {
      const evals: { round: number; acc: number }[] = [];
      fed.coordinator.on('round', (r: { round: number; testAccuracy?: number }) => {
        if (r.testAccuracy !== undefined) evals.push({ round: r.round, acc: r.testAccuracy });
      });
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      assert.ok(evals.length >= 1);
      const stopping = evals[evals.length - 1]!;
      assert.ok(stopping.acc >= 0.01);
      assert.equal(summary.rounds, stopping.round + 1, 'the run ends at the evaluation that reached the target');
      const own = await expectConsistentFinal(fed, summary);
      assert.equal(stopping.acc, own, 'the evaluation that reached the target scored the stored model');
    } finally {
      await fed.close();
    }
  });
});
