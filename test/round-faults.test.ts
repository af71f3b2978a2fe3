import { strict as assert } from 'node:assert';
import { EVENTS } from '@hsfl/protocol';
import { initBackend, loadMnist, BatchIterator, concatBatches } from '@hsfl/runtime';
import type { DeviceAgent } from '@hsfl/device';
import { startInProcess, maxAbsDiff, deviceSeed } from './helpers/inproc.js';
import { centralizedSgd } from './helpers/reference.js';

const MODEL = 'cnn-mnist';
const LR = 0.05;
const SEED = 3;
const BATCH = 8;

/** Makes a device claim `samples` in every weight upload (an inflated count, as a hostile device would send). */
function claimSamples(dev: DeviceAgent, samples: number): void {
  const peer = (dev as unknown as { link: { peer: { send: (event: string, msg: Record<string, unknown>) => number } } }).link.peer;
  const send = peer.send.bind(peer);
  peer.send = (event, msg) => send(event, event === EVENTS.weightsUp ? { ...msg, samples } : msg);
}

describe('round faults a single node can cause', function () {
  this.timeout(120000);

  before(async () => {
    await initBackend();
    loadMnist();
  });

  it('a device claiming 2^53 - 1 samples does not dominate FedAvg: the edge weighs by the samples it saw', async () => {
    const rounds = 4;
    const range = (a: number, n: number) => Int32Array.from({ length: n }, (_, i) => a + i);
    const shards = [range(0, 5), range(100, 200), range(400, 3)];
    const fed = await startInProcess(
      { model: MODEL, c1: 2, c2: 5, i1: 1, i2: 1, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED },
      { devicesPerEdge: [3], shards },
    );
    try {
      claimSamples(fed.devices[2]!, Number.MAX_SAFE_INTEGER);
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      const iters = shards.map((s, i) => new BatchIterator(fed.data, s, BATCH, deviceSeed(i)));
      const steps = Array.from({ length: rounds }, () => concatBatches(iters.map((it) => it.next())));
      const diff = maxAbsDiff(fed.coordinator.globalWeights(), centralizedSgd(MODEL, SEED, LR, steps));
      assert.ok(diff < 1e-4, `weighted by claims, the model would be the liar's copy; max |hsfl - centralized| = ${diff}`);
    } finally {
      await fed.close();
    }
  });

  it('a plan requested during the last round is discarded, never recorded as applied at a round that does not run', async () => {
    const rounds = 10;
    const fed = await startInProcess(
      { model: MODEL, c1: 2, c2: 5, i1: 1, i2: 1, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED },
      { devicesPerEdge: [2] },
    );
    try {
      fed.coordinator.on('round', (r: { round: number }) => {
        // Round 8 has ended; the next one (9) is the last.
        if (r.round === rounds - 2) fed.coordinator.requestPlan({ c1: 3, c2: 6, i1: 1, i2: 1 }, 'test: too late');
      });
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      assert.equal(summary.rounds, rounds);
      assert.equal(summary.plan.version, 1);
      const plans = fed.store.listPlans(summary.runId);
      assert.deepEqual(plans.map((p) => [p.version, p.appliedAtRound]), [[1, 0]]);
      const events = fed.store.listEvents({ runId: summary.runId, limit: 1000 });
      assert.ok(events.some((e) => e.kind === 'plan_discarded'), 'the discarded plan is in the event log');
      assert.ok(!events.some((e) => e.kind === 'plan_applied'));
    } finally {
      await fed.close();
    }
  });
});
