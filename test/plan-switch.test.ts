import { strict as assert } from 'node:assert';
import { initBackend, tierWeightShapes, evaluate, loadMnist } from '@hsfl/runtime';
import { startInProcess, maxAbsDiff } from './helpers/inproc.js';

describe('switching plans mid-run (issue 4)', function () {
  this.timeout(240000);

  before(async () => {
    await initBackend();
  });

  it('moves weights between tiers at a sync round without losing accuracy, and every tier trains on under the new cuts', async () => {
    const fed = await startInProcess(
      { model: 'cnn-mnist', c1: 2, c2: 5, i1: 2, i2: 3, batchSize: 16, lr: 0.1, rounds: 90, evalEvery: 10, planner: 'off' },
      { devicesPerEdge: [2, 2], partition: 'dirichlet', alpha: 0.5 },
    );
    try {
      const accs: { round: number; acc: number; version: number }[] = [];
      // The assembled model just before the move (after the switch round's syncs) and just after it, read here.
      let before: Float32Array[] | undefined;
      let after: Float32Array[] | undefined;
      fed.coordinator.on('round', (r: { round: number; testAccuracy?: number; planVersion: number }) => {
        if (r.testAccuracy !== undefined) accs.push({ round: r.round, acc: r.testAccuracy, version: r.planVersion });
        if (r.round === 44) fed.coordinator.requestPlan({ c1: 4, c2: 6, i1: 1, i2: 4 }, 'test: move both cuts');
        if (r.round === 45) before = fed.coordinator.globalWeights();
      });
      fed.coordinator.on('plan', (p: { version: number }) => {
        if (p.version === 2) after = fed.coordinator.globalWeights();
      });
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      assert.equal(summary.plan.version, 2);
      assert.deepEqual([summary.plan.c1, summary.plan.c2, summary.plan.i1, summary.plan.i2], [4, 6, 1, 4]);

      const runId = summary.runId;
      const plans = fed.store.listPlans(runId);
      assert.equal(plans.length, 2);
      assert.equal(plans[1]!.appliedAtRound, 46);
      const applied = fed.store.listEvents({ runId, limit: 1000 }).find((e) => e.kind === 'plan_applied')!;
      const data = applied.data as { testAccuracyBefore: number; testAccuracyAfter: number };
      // The switch round (45) is forced to aggregate every tier and is scored before the move.
      const atSwitch = accs.find((a) => a.round === 45)!;
      // Moving weights between tiers changes nothing in the assembled model: the same weights, the same accuracy, exactly.
      assert.ok(before && after, 'the assembled model was read before and after the move');
      assert.equal(maxAbsDiff(before, after), 0, 'the assembled model is identical across the switch');
      const test = loadMnist().test;
      const accBefore = evaluate('cnn-mnist', before, test).accuracy;
      const accAfter = evaluate('cnn-mnist', after, test).accuracy;
      assert.equal(accAfter, accBefore);
      assert.equal(atSwitch.acc, accBefore, 'the switch round scored the model that was moved');
      assert.equal(data.testAccuracyBefore, accBefore, 'plan_applied reports the accuracy of the model before the move');
      assert.equal(data.testAccuracyAfter, accBefore, 'plan_applied reports the same accuracy after the move');
      const nextEval = accs.find((a) => a.round > 46)!;
      assert.equal(nextEval.version, 2);
      assert.ok(nextEval.acc >= atSwitch.acc - 0.01, `first evaluation under the new plan ${nextEval.acc} vs ${atSwitch.acc} at the switch`);
      assert.ok(summary.testAccuracy > atSwitch.acc, `training goes on improving: ${summary.testAccuracy} at the end vs ${atSwitch.acc}`);

      // Every tier now holds the new cuts' units.
      assert.equal(fed.edges[0]!.weights.length, tierWeightShapes('cnn-mnist', 4, 6).length);
      assert.equal(fed.devices[0]!.weights.length, tierWeightShapes('cnn-mnist', 0, 4).length);
      const metrics = fed.store.listRoundMetrics(runId);
      assert.ok(metrics.filter((m) => m.planVersion === 2).length >= 40);
      assert.ok(metrics.filter((m) => m.planVersion === 2).every((m) => m.devices === 4 && m.samples === 64));
    } finally {
      await fed.close();
    }
  });
});
