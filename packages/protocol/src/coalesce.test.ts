import { strict as assert } from 'node:assert';
import { LogCoalescer, clip } from './coalesce.js';

describe('LogCoalescer (no clocks)', () => {
  it('logs the first of a key, counts the rest, and reports the count once per interval', () => {
    const c = new LogCoalescer({ intervalMs: 1000 });
    const logged = Array.from({ length: 5000 }, (_, i) => c.note('wrong_token|10.0.0.7', i / 10));
    assert.equal(logged.filter(Boolean).length, 1);
    assert.equal(logged[0], true);
    assert.deepEqual(c.flush(999), [], 'the interval is not over yet');
    assert.deepEqual(c.flush(1000), [{ key: 'wrong_token|10.0.0.7', count: 5000, suppressed: 4999 }]);
    // Still firing: counted, not logged in full again.
    assert.equal(c.note('wrong_token|10.0.0.7', 1100), false);
    assert.deepEqual(c.flush(2000), [{ key: 'wrong_token|10.0.0.7', count: 1, suppressed: 1 }]);
    // Quiet for an interval: forgotten, so the next one is logged in full.
    assert.deepEqual(c.flush(3000), []);
    assert.equal(c.size, 0);
    assert.equal(c.note('wrong_token|10.0.0.7', 3100), true);
  });

  it('a single occurrence is logged and then forgotten (no summary line for nothing)', () => {
    const c = new LogCoalescer({ intervalMs: 1000 });
    assert.equal(c.note('no_hello|a', 0), true);
    assert.deepEqual(c.flush(1000), [{ key: 'no_hello|a', count: 1, suppressed: 0 }]);
    assert.equal(c.size, 0);
  });

  it('stays bounded whatever the number of sources: extra sources count under <kind>|*', () => {
    const c = new LogCoalescer({ intervalMs: 1000, maxKeys: 16 });
    let logged = 0;
    for (let i = 0; i < 100_000; i++) if (c.note(`wrong_token|10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 0)) logged++;
    assert.ok(c.size <= 17, `size ${c.size}`);
    assert.equal(logged, 17, 'the first 16 sources and the overflow key');
    const counts = c.flush(1000);
    assert.equal(counts.reduce((a, x) => a + x.count, 0), 100_000, 'every occurrence is counted');
    assert.equal(counts.find((x) => x.key === 'wrong_token|*')!.count, 100_000 - 16);
  });

  it('flush(now, true) ends every interval (on close)', () => {
    const c = new LogCoalescer({ intervalMs: 1000 });
    c.note('k|a', 0);
    c.note('k|a', 1);
    assert.deepEqual(c.flush(2, true), [{ key: 'k|a', count: 2, suppressed: 1 }]);
    assert.equal(c.size, 0);
  });
});

describe('clip', () => {
  it('keeps short strings and cuts long ones to max characters with a marker', () => {
    assert.equal(clip('pi-01'), 'pi-01');
    const long = clip('x'.repeat(100_000));
    assert.equal(long, `${'x'.repeat(64)}...(100000 chars)`);
    assert.ok(long.length < 90);
    assert.equal(clip('abcdef', 3), 'abc...(6 chars)');
    assert.equal(clip(undefined), 'undefined');
  });
});
