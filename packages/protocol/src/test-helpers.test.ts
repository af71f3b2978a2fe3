import assert from 'node:assert/strict';
import { rng } from './test-helpers.js';

// @hsfl/protocol depends on neither @hsfl/runtime nor @hsfl/planner, so its
// tests keep their own mulberry32; these are the known answers the other
// two copies (runtime data/random.ts, planner testing/random.ts) are pinned to.
describe('test-helpers rng (mulberry32)', () => {
  it('gives the known mulberry32 sequence', () => {
    const r = rng(1);
    assert.deepEqual([r(), r(), r()], [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    const q = rng(0xdeadbeef);
    assert.deepEqual([q(), q(), q()], [0.9413696140982211, 0.26719574979506433, 0.772033357527107]);
  });
});
