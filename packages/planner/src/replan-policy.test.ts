import assert from 'node:assert/strict';
import { ReplanPolicy, aggregationCycle, gcd, lcm, type ObservedRound } from './replan-policy.js';

const round = (r: number, roundMs: number, more: Partial<ObservedRound> = {}): ObservedRound => ({
  round: r, roundMs, planVersion: 1, i1: 1, i2: 1, pendingPlan: false, ...more,
});

/** Observes rounds from..to-1 with `ms(r)`, returning the first round that asked for a re-plan and its reason. */
function run(p: ReplanPolicy, from: number, to: number, ms: (r: number) => number, more: Partial<ObservedRound> = {}) {
  for (let r = from; r < to; r++) {
    const reason = p.observe(round(r, ms(r), more));
    if (reason) return { round: r, reason };
  }
  return undefined;
}

describe('lcm, aggregationCycle', () => {
  it('computes whole aggregation cycles, capped at 30 rounds', () => {
    assert.equal(gcd(12, 18), 6);
    assert.equal(lcm(2, 3), 6);
    assert.equal(lcm(4, 6), 12);
    assert.equal(lcm(1, 1), 1);
    assert.equal(aggregationCycle(2, 3), 6);
    assert.equal(aggregationCycle(7, 9), 30);
    assert.throws(() => lcm(0, 3), RangeError);
    assert.throws(() => lcm(1.5, 3), RangeError);
  });
});

describe('ReplanPolicy', () => {
  const options = { warmupRounds: 5, threshold: 0.25 };
  const noWarmup = { warmupRounds: 0, threshold: 0.25 };

  it('asks right after the warm-up, and not before', () => {
    const p = new ReplanPolicy(options);
    assert.deepEqual(run(p, 0, 20, () => 100), { round: 4, reason: 'after warm-up' });
  });

  it('asks again on every round after a failed warm-up planning until one succeeds', () => {
    const p = new ReplanPolicy(options);
    assert.equal(p.observe(round(4, 100)), 'after warm-up');
    p.failed(4);
    assert.equal(p.observe(round(5, 100)), 'after warm-up (retry)');
    p.failed(5);
    assert.equal(p.observe(round(6, 100)), 'after warm-up (retry)');
    p.planned({ round: 7, planVersion: 1, predictedRoundMs: 100, since: 7 });
    assert.equal(run(p, 7, 30, () => 100), undefined);
  });

  it('a failed re-plan after the warm-up round does not ask for a warm-up retry', () => {
    const p = new ReplanPolicy(options);
    p.failed(9);
    assert.equal(run(p, 10, 60, () => 100), undefined);
  });

  it('asks when the fleet changed, only after the warm-up, until a planning succeeds', () => {
    const p = new ReplanPolicy(options);
    p.fleetChanged();
    assert.equal(p.observe(round(2, 100)), undefined);
    assert.equal(p.observe(round(4, 100)), 'after warm-up');
    p.failed(4);
    assert.equal(p.observe(round(5, 100)), 'after warm-up (retry)');
    p.planned({ round: 6, planVersion: 1, predictedRoundMs: 100, since: 6 });
    assert.equal(p.observe(round(6, 100)), undefined);
    p.fleetChanged();
    assert.equal(p.observe(round(7, 100)), 'the fleet changed');
    p.failed(7);
    assert.equal(p.observe(round(8, 100)), 'the fleet changed');
    p.planned({ round: 9, planVersion: 2, predictedRoundMs: 100, since: 9 });
    assert.equal(p.observe(round(9, 100, { planVersion: 2 })), undefined);
  });

  it('never asks for drift without a prediction', () => {
    const p = new ReplanPolicy(noWarmup);
    assert.equal(run(p, 0, 200, () => 1e6), undefined);
    assert.deepEqual(p.toJSON().recentRoundMs, []);
  });

  it('asks when the measured round time drifts beyond the threshold, not within it', () => {
    const p = new ReplanPolicy(options);
    p.planned({ round: 5, planVersion: 1, predictedRoundMs: 100, since: 5 });
    assert.equal(run(p, 5, 200, () => 120), undefined); // +20%
    p.planned({ round: 5, planVersion: 1, predictedRoundMs: 100, since: 5 });
    assert.deepEqual(run(p, 5, 200, () => 130), { round: 35, reason: 'round time drifted from the predicted 100 ms' });
  });

  it('asks for drift downwards too', () => {
    const p = new ReplanPolicy(options);
    p.planned({ round: 5, planVersion: 1, predictedRoundMs: 100, since: 5 });
    assert.equal(run(p, 5, 200, () => 70)?.round, 35);
  });

  it('spaces drift re-plans 30 rounds from the last planning', () => {
    const p = new ReplanPolicy(options);
    p.planned({ round: 10, planVersion: 1, predictedRoundMs: 100, since: 10 });
    assert.equal(run(p, 10, 40, () => 1000), undefined);
    assert.equal(p.observe(round(40, 1000)), 'round time drifted from the predicted 100 ms');
    p.planned({ round: 41, planVersion: 1, predictedRoundMs: 1000, since: 41 });
    assert.equal(run(p, 41, 200, () => 5000)?.round, 71);
  });

  it('counts only rounds of the predicted plan version, from its since round', () => {
    const p = new ReplanPolicy(options);
    p.planned({ round: 5, planVersion: 2, predictedRoundMs: 100, since: 8 });
    // The old plan still runs until the change applies: not its rounds.
    assert.equal(run(p, 5, 8, () => 1000, { planVersion: 1 }), undefined);
    assert.deepEqual(p.toJSON().recentRoundMs, []);
    assert.equal(run(p, 8, 100, () => 1000, { planVersion: 1 }), undefined);
    assert.deepEqual(p.toJSON().recentRoundMs, []);
    // A plan kept as it is counts from the round the prediction names.
    p.planned({ round: 100, planVersion: 1, predictedRoundMs: 100, since: 103 });
    assert.equal(run(p, 100, 103, () => 1000), undefined);
    assert.deepEqual(p.toJSON().recentRoundMs, []);
    assert.equal(run(p, 103, 200, () => 1000)?.round, 130);
  });

  it('compares means over whole aggregation cycles (i1 = 2, i2 = 3: cycles of 6 rounds)', () => {
    // Five short rounds and one long sync round a cycle: the median round is
    // 60 ms (40% off), the cycle mean exactly the predicted 100 ms.
    const cyclic = (scale: number) => (r: number) => scale * (r % 6 === 5 ? 300 : 60);
    const intervals = { i1: 2, i2: 3 };
    const p = new ReplanPolicy(noWarmup);
    p.planned({ round: 0, planVersion: 1, predictedRoundMs: 100, since: 0 });
    assert.equal(run(p, 0, 300, cyclic(1), intervals), undefined);
    assert.equal(p.toJSON().recentRoundMs.length, 18); // max(3 * 6, 12) kept
    // 1.5 times slower: two whole cycles are needed before the rule speaks.
    p.planned({ round: 300, planVersion: 1, predictedRoundMs: 100, since: 300 });
    assert.equal(run(p, 300, 600, cyclic(1.5), intervals)?.round, 330);
    p.planned({ round: 0, planVersion: 1, predictedRoundMs: 100, since: 0 });
    assert.equal(run(p, 100, 111, () => 1000, intervals), undefined); // 11 samples: one whole cycle
    assert.equal(p.observe(round(111, 1000, intervals)), 'round time drifted from the predicted 100 ms'); // 12: two
  });

  it('needs at least 10 samples even when cycles are short', () => {
    const p = new ReplanPolicy(options);
    p.planned({ round: 0, planVersion: 1, predictedRoundMs: 100, since: 0 });
    assert.equal(run(p, 100, 109, () => 1000), undefined);
    assert.equal(p.observe(round(109, 1000)), 'round time drifted from the predicted 100 ms');
  });

  it('caps cycles at 30 rounds (i1 = 7, i2 = 9)', () => {
    const p = new ReplanPolicy(options);
    p.planned({ round: 0, planVersion: 1, predictedRoundMs: 100, since: 0 });
    assert.equal(run(p, 100, 200, () => 1000, { i1: 7, i2: 9 })?.round, 159);
    assert.equal(p.toJSON().recentRoundMs.length, 60);
  });

  it('does not ask, nor count rounds, while a plan change is pending', () => {
    const p = new ReplanPolicy(options);
    assert.equal(p.observe(round(4, 100, { pendingPlan: true })), undefined);
    p.fleetChanged();
    assert.equal(p.observe(round(6, 100, { pendingPlan: true })), undefined);
    p.planned({ round: 7, planVersion: 1, predictedRoundMs: 100, since: 7 });
    assert.equal(run(p, 7, 200, () => 1000, { pendingPlan: true }), undefined);
    assert.deepEqual(p.toJSON().recentRoundMs, []);
  });

  it('starts the recent round times over after every planning attempt', () => {
    const p = new ReplanPolicy(noWarmup);
    p.planned({ round: 0, planVersion: 1, predictedRoundMs: 100, since: 0 });
    assert.equal(run(p, 0, 20, () => 100), undefined);
    assert.equal(p.toJSON().recentRoundMs.length, 12);
    p.failed(20);
    assert.deepEqual(p.toJSON().recentRoundMs, []);
    assert.equal(run(p, 40, 49, () => 1000), undefined);
    p.planned({ round: 49, planVersion: 1, predictedRoundMs: 100, since: 49 });
    assert.deepEqual(p.toJSON().recentRoundMs, []);
  });

  it('survives a JSON round trip and then decides exactly as the original', () => {
    const p = new ReplanPolicy(options);
    p.planned({ round: 5, planVersion: 1, predictedRoundMs: 100, since: 5 });
    assert.equal(run(p, 5, 20, (r) => 100 + r), undefined);
    p.fleetChanged();
    const json = JSON.parse(JSON.stringify(p)) as ReturnType<ReplanPolicy["toJSON"]>;
    assert.deepEqual(json, p.toJSON());
    const q = ReplanPolicy.fromJSON(json, options);
    assert.deepEqual(q.toJSON(), p.toJSON());
    assert.deepEqual(q.prediction, { planVersion: 1, predictedRoundMs: 100, since: 5 });
    assert.equal(q.observe(round(20, 120)), 'the fleet changed');
    assert.equal(p.observe(round(20, 120)), 'the fleet changed');
    p.planned({ round: 21, planVersion: 1, predictedRoundMs: 100, since: 21 });
    q.planned({ round: 21, planVersion: 1, predictedRoundMs: 100, since: 21 });
    const ms = (r: number) => 100 + 2 * (r - 21);
    const a = run(p, 21, 200, ms);
    assert.ok(a, 'drift eventually');
    assert.deepEqual(run(q, 21, 200, ms), a);
    // The copy is independent of the state it came from.
    json.recentRoundMs.push(1);
    json.prediction!.predictedRoundMs = 1;
    assert.equal(q.prediction?.predictedRoundMs, 100);
  });

  it('rejects malformed state and options', () => {
    const good = new ReplanPolicy(options).toJSON();
    assert.throws(() => ReplanPolicy.fromJSON(null, options), /not an object/);
    assert.throws(() => ReplanPolicy.fromJSON({ ...good, fleetChanged: 'yes' }, options), /fleetChanged/);
    assert.throws(() => ReplanPolicy.fromJSON({ ...good, recentRoundMs: [1, null] }, options), /recentRoundMs/);
    assert.throws(() => ReplanPolicy.fromJSON({ ...good, lastPlannedRound: -1 }, options), /lastPlannedRound/);
    assert.throws(() => ReplanPolicy.fromJSON({ ...good, prediction: { planVersion: 1, predictedRoundMs: null, since: 0 } }, options), /predictedRoundMs/);
    assert.throws(() => new ReplanPolicy({ warmupRounds: -1, threshold: 0.25 }), /warmupRounds/);
    assert.throws(() => new ReplanPolicy({ warmupRounds: 5, threshold: NaN }), /threshold/);
    assert.throws(() => new ReplanPolicy(options).planned({ round: 0, planVersion: 1, predictedRoundMs: Infinity, since: 0 }), /predictedRoundMs/);
  });
});
