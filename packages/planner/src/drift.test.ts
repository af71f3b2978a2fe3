import assert from 'node:assert/strict';
import { shouldReplan } from './drift.js';

describe('shouldReplan', () => {
  it('compares the median of recent measurements with the prediction', () => {
    assert.equal(shouldReplan(100, [110, 120, 90]), false); // median 110: +10%
    assert.equal(shouldReplan(100, [130, 500, 90]), true); // median 130: +30%
    assert.equal(shouldReplan(100, [70, 74, 1000]), true); // median 74: -26%
    assert.equal(shouldReplan(100, [120, 130]), false); // median 125: exactly +25% is not drift
    assert.equal(shouldReplan(100, [120, 130], 0.2), true);
    assert.equal(shouldReplan(100, [1000, 100, 101, 99]), false); // one outlier does not trigger
  });

  it('handles empty, non-finite and degenerate input', () => {
    assert.equal(shouldReplan(100, []), false);
    assert.equal(shouldReplan(100, [NaN, Infinity]), false);
    assert.equal(shouldReplan(0, [10]), true);
    assert.throws(() => shouldReplan(100, [1], -1), /threshold/);
  });
});
