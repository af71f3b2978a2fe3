import assert from 'node:assert/strict';
import { calibrate } from './calibrate.js';
import { defaultSurrogateParams, DEFAULT_SURROGATE, estimateG2, roundsToTarget } from './surrogate.js';
import type { Plan, SurrogateParams } from './types.js';

const P: SurrogateParams = { theta: 2, gamma: 0.1, eps: 0.5, A: 0.1, C: 0.001, G2: [1, 2, 3, 4] };

describe('roundsToTarget', () => {
  it('follows R = 2 theta / (gamma (eps - A - C sum_m 1[I_m>1] I_m^2 sum_tier G2))', () => {
    // S = 3^2 * G2[0] + 2^2 * (G2[1] + G2[2]) = 9 + 20 = 29
    const r = roundsToTarget(P, { c1: 1, c2: 3, i1: 3, i2: 2 }, 4);
    assert.ok(Math.abs(r - 4 / (0.1 * (0.4 - 0.029))) < 1e-9);
    // Intervals of 1 contribute nothing; the cloud tier never does.
    assert.ok(Math.abs(roundsToTarget(P, { c1: 2, c2: 4, i1: 1, i2: 1 }, 4) - 4 / (0.1 * 0.4)) < 1e-9);
    assert.ok(Math.abs(roundsToTarget(P, { c1: 0, c2: 0, i1: 20, i2: 20 }, 4) - 100) < 1e-9);
  });

  it('grows with each interval', () => {
    for (const tier of ['i1', 'i2'] as const) {
      let prev = 0;
      for (let i = 1; i <= 12; i++) {
        const plan: Plan = { c1: 2, c2: 3, i1: 1, i2: 1, [tier]: i };
        const r = roundsToTarget(P, plan, 4);
        assert.ok(r > prev, `${tier}=${i}: ${r} <= ${prev}`);
        prev = r;
      }
      assert.equal(prev, Infinity); // 0.4 - 0.001 * 144 * G < 0 for these tiers
    }
  });

  it('grows with the layers held by a rarely aggregated tier', () => {
    let prev = 0;
    for (let c1 = 0; c1 <= 4; c1++) {
      const r = roundsToTarget(P, { c1, c2: 4, i1: 5, i2: 1 }, 4);
      assert.ok(r > prev, `device tier with ${c1} units`);
      prev = r;
    }
    prev = 0;
    for (let c2 = 1; c2 <= 4; c2++) {
      const r = roundsToTarget(P, { c1: 1, c2, i1: 1, i2: 5 }, 4);
      assert.ok(r > prev, `edge tier [1,${c2})`);
      prev = r;
    }
  });

  it('is Infinity when the denominator is not positive', () => {
    assert.equal(roundsToTarget({ ...P, A: 0.5 }, { c1: 0, c2: 0, i1: 1, i2: 1 }, 4), Infinity);
    assert.equal(roundsToTarget(P, { c1: 4, c2: 4, i1: 7, i2: 1 }, 4), Infinity); // 0.001*49*10 = 0.49 > 0.4
  });

  it('ignores the divergence of a tier with a single copy', () => {
    const plan = { c1: 1, c2: 3, i1: 3, i2: 2 };
    assert.equal(roundsToTarget(P, plan, 4, { device: 1, edge: 1 }), 4 / (0.1 * 0.4));
    assert.ok(roundsToTarget(P, plan, 4, { device: 5, edge: 1 }) < roundsToTarget(P, plan, 4));
  });

  it('validates its inputs', () => {
    assert.throws(() => roundsToTarget({ ...P, G2: [1] }, { c1: 0, c2: 0, i1: 1, i2: 1 }, 4), /G2 must have one entry per unit \(4\)/);
    assert.throws(() => roundsToTarget({ ...P, gamma: 0 }, { c1: 0, c2: 0, i1: 1, i2: 1 }, 4), /gamma/);
  });
});

describe('defaults and estimateG2', () => {
  it('defaults G2 to each unit\'s parameter share', () => {
    const p = defaultSurrogateParams([
      { name: 'a', paramBytes: 300, outputBytesPerSample: 1 },
      { name: 'b', paramBytes: 0, outputBytesPerSample: 1 },
      { name: 'c', paramBytes: 100, outputBytesPerSample: 1 },
    ]);
    assert.deepEqual(p.G2, [0.75, 0, 0.25]);
    assert.equal(p.theta, DEFAULT_SURROGATE.theta);
    assert.ok(Math.abs(roundsToTarget(p, { c1: 0, c2: 0, i1: 1, i2: 1 }, 3) - 2 * 2.3 / (0.05 * 0.09)) < 1e-6);
  });

  it('estimates G2 as the per-unit mean over warm-up rounds', () => {
    assert.deepEqual(estimateG2([[1, 4, 0], [3, 2, 0]]), [2, 3, 0]);
    assert.throws(() => estimateG2([]), /at least one/);
    assert.throws(() => estimateG2([[1, 2], [1]]), /round 1 has 1 units, expected 2/);
    assert.throws(() => estimateG2([[1, -2]]), /unit 1/);
  });
});

describe('calibrate', () => {
  const truth: SurrogateParams = { ...P, theta: 3.1, C: 0.0042 };
  const plans: Plan[] = [
    { c1: 1, c2: 3, i1: 1, i2: 1 }, { c1: 1, c2: 3, i1: 2, i2: 2 }, { c1: 2, c2: 3, i1: 4, i2: 1 }, { c1: 0, c2: 4, i1: 1, i2: 3 },
  ];
  const obs = plans.map((plan) => ({ plan, rounds: roundsToTarget(truth, plan, 4) }));

  it('recovers theta and C from exact observations', () => {
    const r = calibrate({ ...P, theta: 1, C: 0 }, obs, 4);
    assert.deepEqual(r.fitted, ['theta', 'C']);
    assert.ok(Math.abs(r.params.theta - 3.1) < 1e-9, String(r.params.theta));
    assert.ok(Math.abs(r.params.C - 0.0042) < 1e-12, String(r.params.C));
    assert.ok(r.rmsRelError < 1e-9);
  });

  it('fits theta alone or C alone', () => {
    const t = calibrate({ ...P, theta: 1, C: 0.0042 }, obs, 4, { fit: 'theta' });
    assert.ok(Math.abs(t.params.theta - 3.1) < 1e-9);
    const c = calibrate({ ...P, theta: 3.1, C: 0 }, obs, 4, { fit: 'C' });
    assert.ok(Math.abs(c.params.C - 0.0042) < 1e-12);
    // Only I = 1 observations: C is not identifiable, theta is fitted alone.
    const only = calibrate(P, [obs[0]], 4);
    assert.deepEqual(only.fitted, ['theta']);
    assert.ok(Math.abs(only.params.theta - 3.1) < 1e-9);
  });

  it('rejects unusable observations', () => {
    assert.throws(() => calibrate(P, [], 4), /at least one/);
    assert.throws(() => calibrate(P, [{ plan: plans[0], rounds: 0 }], 4), /rounds must be/);
    assert.throws(() => calibrate({ ...P, A: 0.6 }, obs, 4), /eps > A/);
  });
});
