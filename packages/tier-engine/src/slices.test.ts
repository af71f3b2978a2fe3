import { strict as assert } from 'node:assert';
import { concatSlices, splitBySlices, type Part } from './slices.js';

/** A part of n samples with `per` values each; sample i of part `tag` holds tag*100 + i in every value. */
function part(id: string, n: number, per: number, tag: number): Part {
  const x = new Float32Array(n * per);
  for (let i = 0; i < n; i++) x.fill(tag * 100 + i, i * per, (i + 1) * per);
  const y = Int32Array.from({ length: n }, (_, i) => tag * 10 + i);
  return { id, x, y, n };
}

describe('concatSlices / splitBySlices', () => {
  it('concatenates parts sorted by id, with each slice\'s offset', () => {
    const per = 3;
    const c = concatSlices([part('dev-b', 2, per, 2), part('dev-c', 1, per, 3), part('dev-a', 3, per, 1)]);
    assert.equal(c.n, 6);
    assert.deepEqual(c.slices, [
      { id: 'dev-a', n: 3, offset: 0 },
      { id: 'dev-b', n: 2, offset: 3 },
      { id: 'dev-c', n: 1, offset: 5 },
    ]);
    assert.equal(c.x.length, 6 * per);
    const rows = Array.from({ length: 6 }, (_, i) => c.x[i * per]);
    assert.deepEqual(rows, [100, 101, 102, 200, 201, 300]);
    assert.deepEqual(Array.from(c.y), [10, 11, 12, 20, 21, 30]);
  });

  it('sorts by code unit, not by locale or number (dev-10 before dev-9)', () => {
    const c = concatSlices([part('dev-9', 1, 1, 9), part('dev-10', 1, 1, 10), part('Z', 1, 1, 5)]);
    assert.deepEqual(c.slices.map((s) => s.id), ['Z', 'dev-10', 'dev-9']);
  });

  it('does not reorder the caller\'s array', () => {
    const parts = [part('b', 1, 1, 2), part('a', 1, 1, 1)];
    concatSlices(parts);
    assert.deepEqual(parts.map((p) => p.id), ['b', 'a']);
  });

  it('splits a gradient back into views of each slice\'s rows', () => {
    const per = 4;
    const c = concatSlices([part('b', 2, per, 2), part('a', 3, per, 1), part('c', 1, per, 3)]);
    const grad = new Float32Array(c.n * per).map((_, i) => i);
    const split = splitBySlices(grad, per, c.slices);
    assert.deepEqual([...split.keys()], ['a', 'b', 'c']);
    assert.deepEqual(Array.from(split.get('a')!), Array.from({ length: 12 }, (_, i) => i));
    assert.deepEqual(Array.from(split.get('b')!), Array.from({ length: 8 }, (_, i) => 12 + i));
    assert.deepEqual(Array.from(split.get('c')!), [20, 21, 22, 23]);
    // views, not copies
    const b = split.get('b')!;
    assert.equal(b.buffer, grad.buffer);
    b[0] = -1;
    assert.equal(grad[12], -1);
  });

  it('round-trips: split of the concatenation gives back each part', () => {
    const per = 5;
    const parts = [part('x', 2, per, 7), part('w', 4, per, 8)];
    const c = concatSlices(parts);
    const split = splitBySlices(c.x, per, c.slices);
    for (const p of parts) assert.deepEqual(Array.from(split.get(p.id)!), Array.from(p.x));
  });

  it('a gradient of the wrong total throws', () => {
    const c = concatSlices([part('a', 2, 3, 1), part('b', 1, 3, 2)]);
    assert.throws(() => splitBySlices(new Float32Array(8), 3, c.slices), /8 values; 3 samples x 3/);
    assert.throws(() => splitBySlices(new Float32Array(10), 3, c.slices), /expected/);
    assert.throws(() => splitBySlices(new Float32Array(9), 2, c.slices), /expected/);
    assert.equal(splitBySlices(new Float32Array(9), 3, c.slices).size, 2);
  });

  it('a part whose values do not match its sample count throws', () => {
    assert.throws(() => concatSlices([part('a', 2, 3, 1), { id: 'b', n: 2, x: new Float32Array(5), y: new Int32Array(2) }]));
  });
});
