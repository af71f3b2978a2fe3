import assert from 'node:assert/strict';
import { DEFAULT_TRIAL, TRIAL_LIMITS, trialProblems, type TrialConfig, type TrialNumberField } from './config.js';

describe('trialProblems: every number bounded', () => {
  const with_ = (over: Partial<Record<keyof TrialConfig, unknown>>) => trialProblems({ ...DEFAULT_TRIAL, ...over } as TrialConfig, 7);

  it('accepts the defaults and every field at its bounds', () => {
    assert.deepEqual(trialProblems(DEFAULT_TRIAL, 7), []);
    for (const [k, l] of Object.entries(TRIAL_LIMITS) as [TrialNumberField, (typeof TRIAL_LIMITS)[TrialNumberField]][]) {
      if (k === 'c1' || k === 'c2') continue; // bounded by the model's size, below
      const lo = 'exclusiveMin' in l && l.exclusiveMin ? l.min + 1e-9 : l.min;
      const hi = 'exclusiveMax' in l && l.exclusiveMax ? l.max - 1e-9 : l.max;
      assert.deepEqual(with_({ [k]: lo }), [], `${k} = ${lo}`);
      assert.deepEqual(with_({ [k]: hi }), [], `${k} = ${hi}`);
    }
  });

  it('refuses huge, fractional, non-finite and non-number values with one readable line each', () => {
    assert.deepEqual(with_({ warmupRounds: 1e308 }), ['warmupRounds must be a whole number in [1, 1000000] (got 1e+308)']);
    assert.deepEqual(with_({ rounds: 2.5 }), ['rounds must be a whole number in [1, 10000000] (got 2.5)']);
    assert.deepEqual(with_({ replanThreshold: Infinity }), ['replanThreshold must be a number in (0, 10) (got Infinity)']);
    assert.deepEqual(with_({ lr: Number.NaN }), ['lr must be a number in (0, 10] (got NaN)']);
    assert.deepEqual(with_({ deadlineMs: '30000' }), ['deadlineMs must be a whole number in [100, 3600000] (got "30000")']);
    assert.deepEqual(with_({ targetAccuracy: 0 }), ['targetAccuracy must be a number in (0, 1] (got 0)']);
    assert.deepEqual(with_({ joinTimeoutMs: 1e16 }), ['joinTimeoutMs must be a whole number in [1, 604800000] (got 10000000000000000)']);
    for (const k of Object.keys(TRIAL_LIMITS) as TrialNumberField[]) {
      const p = with_({ [k]: 1e308 });
      assert.ok(p.some((line) => line.startsWith(`${k} must be`)), `${k} = 1e308 accepted: ${JSON.stringify(p)}`);
    }
  });

  it('keeps the cut checks', () => {
    assert.deepEqual(with_({ c1: 4, c2: 2 }), ['c2 must be a whole number >= c1 (got c1=4, c2=2)']);
    assert.deepEqual(with_({ c2: 99 }), ['c2 must be <= 7, the number of units of cnn-mnist (got 99)']);
  });
});
