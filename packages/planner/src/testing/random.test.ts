import assert from 'node:assert/strict';
import { mulberry32 } from './random.js';

// @hsfl/planner depends on nothing, so it keeps its own mulberry32; these
// known answers are the ones @hsfl/runtime's (data/random.ts) is pinned to.
describe('mulberry32', () => {
  it('gives the known mulberry32 sequence', () => {
    const r = mulberry32(1);
    assert.deepEqual([r(), r(), r()], [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    const q = mulberry32(0xdeadbeef);
    assert.deepEqual([q(), q(), q()], [0.9413696140982211, 0.26719574979506433, 0.772033357527107]);
  });
});
