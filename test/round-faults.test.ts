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

/** Rewrites what a device sends for `event` (as a hostile or broken device would send it). */
function tamper(dev: DeviceAgent, event: string, change: Record<string, unknown>): void {
  const peer = (dev as unknown as { link: { peer: { send: (event: string, msg: Record<string, unknown>) => number } } }).link.peer;
  const send = peer.send.bind(peer);
  peer.send = (e, msg) => send(e, e === event ? { ...msg, ...change } : msg);
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
      tamper(fed.devices[2]!, EVENTS.weightsUp, { samples: Number.MAX_SAFE_INTEGER });
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

  it('a device reporting computeMs NaN every round is refused and counted late; the run completes with finite metrics', async () => {
    const rounds = 3;
    const fed = await startInProcess(
      { model: MODEL, c1: 2, c2: 5, i1: 1, i2: 1, batchSize: BATCH, lr: LR, rounds, evalEvery: 0, seed: SEED, deadlineMs: 1000 },
      { devicesPerEdge: [2] },
    );
    try {
      tamper(fed.devices[1]!, EVENTS.roundDone, { computeMs: Number.NaN });
      const summary = await fed.run();
      assert.equal(summary.status, 'completed');
      assert.equal(summary.rounds, rounds);
      const metrics = fed.store.listRoundMetrics(summary.runId);
      assert.deepEqual(metrics.map((m) => m.round), [0, 1, 2]);
      // Round 0 may also find the honest device still measuring itself; from then on only the liar is late.
      const figures = JSON.stringify(metrics.map((m) => [m.samples, m.lateDevices, m.deviceComputeMs]));
      assert.ok(metrics.every((m) => m.lateDevices >= 1 && Number.isFinite(m.deviceComputeMs)), figures);
      assert.ok(metrics.some((m) => m.samples === 2 * BATCH && m.lateDevices === 1 && m.deviceComputeMs > 0), figures);
      assert.ok(fed.logs.edge[0]!.has('warn', (l) => l.msg === 'message rejected' && l.obj.code === 'not_finite'), 'the edge refused the report');
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
