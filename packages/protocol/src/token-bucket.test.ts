import { strict as assert } from 'node:assert';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket (no clocks)', () => {
  it('allows a burst of `capacity`, then refills at `perSecond`', () => {
    const b = new TokenBucket(20, 2, 0);
    for (let i = 0; i < 20; i++) assert.ok(b.take(1, 0), `attempt ${i}`);
    assert.equal(b.take(1, 0), false);
    assert.equal(b.waitMs(1, 0), 500);
    assert.equal(b.take(1, 499), false);
    assert.ok(b.take(1, 500));
    assert.equal(b.full(500), false);
    assert.ok(b.full(500 + 10_000), 'full again after capacity / perSecond seconds');
    assert.equal(b.available(1e9), 20, 'never above capacity');
  });

  it('takes nothing when a request does not fit, and says so', () => {
    const b = new TokenBucket(64, 32, 0);
    assert.ok(b.take(40, 0));
    assert.equal(b.take(40, 0), false);
    assert.equal(b.available(0), 24, 'a refused take leaves the tokens');
    assert.equal(b.waitMs(100, 0), Infinity, 'more than capacity: never');
  });

  it('refuses nonsense parameters', () => {
    assert.throws(() => new TokenBucket(0, 1, 0), RangeError);
    assert.throws(() => new TokenBucket(1, -1, 0), RangeError);
    assert.throws(() => new TokenBucket(Number.NaN, 1, 0), RangeError);
  });
});
