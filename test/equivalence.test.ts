import { strict as assert } from 'node:assert';
import { tf, SubModel, BatchIterator, modelInfo, fedAvg, initBackend, concatBatches } from '@hsfl/runtime';
import { startInProcess, maxAbsDiff, deviceSeed } from './helpers/inproc.js';

const MODEL = 'cnn-mnist';
const BATCH = 8;
const LR = 0.05;
const SEED = 3;

function trainStep(model: SubModel, b: { x: Float32Array; y: Int32Array; n: number }): void {
  const x = tf.tensor(b.x, [b.n, ...model.inputShape()]);
  const y = tf.tensor1d(b.y, 'int32');
  model.trainTop(x, y, LR, false);
  x.dispose();
  y.dispose();
}

describe('HSFL round semantics (DESIGN §2) over real sockets', function () {
  this.timeout(120000);
  const L = () => modelInfo(MODEL).numUnits;

  before(async () => {
    await initBackend();
  });

  const cutPairs = (): [number, number][] => {
    const l = L();
    return [[0, 0], [0, l], [1, 3], [2, 5], [3, 3], [l, l]];
  };

  for (const idx of [0, 1, 2, 3, 4, 5]) {
    it(`one edge, 3 devices, I1 = 1 equals centralized SGD on the concatenated batches (cut pair #${idx})`, async () => {
      const [c1, c2] = cutPairs()[idx]!;
      const rounds = 3;
      const fed = await startInProcess(
        { model: MODEL, c1, c2, i1: 1, i2: 1, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED },
        { devicesPerEdge: [3] },
      );
      try {
        const summary = await fed.run();
        assert.equal(summary.status, 'completed');
        assert.equal(summary.rounds, rounds);
        const hsfl = fed.coordinator.globalWeights();

        const central = SubModel.create(MODEL, 0, L(), SEED);
        const iters = fed.shards.map((s, i) => new BatchIterator(fed.data, s, BATCH, deviceSeed(i)));
        for (let r = 0; r < rounds; r++) trainStep(central, concatBatches(iters.map((it) => it.next())));
        const ref = central.getWeights();
        const init = SubModel.create(MODEL, 0, L(), SEED).getWeights();
        const diff = maxAbsDiff(hsfl, ref);
        const moved = maxAbsDiff(init, ref);
        central.dispose();
        assert.ok(moved > 1e-3, `training must move the weights (moved ${moved})`);
        assert.ok(diff < 1e-4, `c1=${c1} c2=${c2}: max |hsfl - centralized| = ${diff}`);
      } finally {
        await fed.close();
      }
    });
  }

  it('c1 = c2 = L is plain FedAvg (I1 = 2: two local steps, then a sample-weighted average)', async () => {
    const l = L();
    const rounds = 4;
    const fed = await startInProcess(
      { model: MODEL, c1: l, c2: l, i1: 2, i2: 1, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED },
      { devicesPerEdge: [2, 1] },
    );
    try {
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      const hsfl = fed.coordinator.globalWeights();

      let global = SubModel.create(MODEL, 0, l, SEED).getWeights();
      const iters = fed.shards.map((s, i) => new BatchIterator(fed.data, s, BATCH, deviceSeed(i)));
      for (let r = 0; r < rounds; r += 2) {
        const copies = iters.map((it) => {
          const m = SubModel.create(MODEL, 0, l, SEED);
          m.setWeights(global);
          trainStep(m, it.next());
          trainStep(m, it.next());
          const w = m.getWeights();
          m.dispose();
          return w;
        });
        global = fedAvg(copies, copies.map(() => 2 * BATCH));
      }
      const diff = maxAbsDiff(hsfl, global);
      assert.ok(diff < 1e-4, `max |hsfl - fedavg| = ${diff}`);
    } finally {
      await fed.close();
    }
  });
});
