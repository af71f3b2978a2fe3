import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFederation } from '@hsfl/lab';
import { Store, DEFAULT_TRIAL, type TrialConfig } from '@hsfl/cloud-coordinator';
import { initBackend, concatBatches, modelInfo, tierWeightShapes, SubModel } from '@hsfl/runtime';
import { centralizedSgd, cliBatchStreams, splitWeightBlob } from './helpers/reference.js';
import { maxAbsDiff } from './helpers/inproc.js';

/**
 * DESIGN §2's equivalence property, with every role its own OS process (the
 * CLIs, as a user starts them): one edge, three devices, I1 = I2 = 1, a real
 * split. The final checkpoint in the store must be centralized SGD on the
 * concatenated batches of the same steps, reproduced here from the device
 * CLI's partition and batch seeds.
 */
describe('equivalence with centralized SGD through separate processes', function () {
  this.timeout(180000);

  before(async () => {
    await initBackend();
  });

  it('1 edge, 3 device processes, I1 = I2 = 1, cuts (2, 5) of cnn-mnist: the stored final model equals centralized SGD', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hsfl-eqproc-'));
    const db = join(dir, 'hsfl.sqlite');
    const rounds = 8;
    const devices = 3;
    const dataSeed = 5;
    const trial: TrialConfig = {
      ...DEFAULT_TRIAL, name: 'eq-processes', model: 'cnn-mnist', c1: 2, c2: 5, i1: 1, i2: 1, batchSize: 16, lr: 0.05,
      rounds, evalEvery: 0, seed: 11, planner: 'off', targetAccuracy: undefined,
    };
    const fed = new LocalFederation({
      trial, edges: 1, devicesPerEdge: devices, partition: 'iid', alpha: 1, dataSeed, token: 'eq-token', db, logDir: join(dir, 'logs'),
    });
    try {
      await fed.start();
      const done = await fed.waitDone(150000);
      assert.equal(done.status, 'completed');
      assert.equal(done.rounds, rounds);
      await fed.stop();

      const { iters } = cliBatchStreams({ shards: devices, partition: 'iid', alpha: 1, dataSeed, batchSize: trial.batchSize });
      const steps = Array.from({ length: rounds }, () => concatBatches(iters.map((it) => it.next())));
      const ref = centralizedSgd(trial.model, trial.seed, trial.lr, steps);

      const L = modelInfo(trial.model).numUnits;
      const sizes = tierWeightShapes(trial.model, 0, L).map((s) => s.reduce((a, b) => a * b, 1));
      const store = Store.open(db);
      try {
        const ckpt = store.latestCheckpoint(done.runId, 'final');
        assert.ok(ckpt, 'a final checkpoint is stored');
        const stored = splitWeightBlob(ckpt.weights, sizes);
        const init = SubModel.create(trial.model, 0, L, trial.seed);
        const moved = maxAbsDiff(init.getWeights(), ref);
        init.dispose();
        assert.ok(moved > 1e-3, `training must move the weights (moved ${moved})`);
        const diff = maxAbsDiff(stored, ref);
        assert.ok(diff < 1e-4, `max |stored final - centralized SGD| = ${diff}`);
      } finally {
        store.close();
      }
    } finally {
      await fed.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
