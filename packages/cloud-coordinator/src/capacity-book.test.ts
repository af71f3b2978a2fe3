import { strict as assert } from 'node:assert';
import { CapacityBook } from './capacity-book.js';
import { refusalEventText } from './fleet.js';
import type { CapacitySnapshot } from './planning.js';

const snap = (nodeId: string) => ({ nodeId }) as CapacitySnapshot;

describe('CapacityBook (bounded by the fleet plus the last nodes that left)', () => {
  it('keeps present nodes, keeps the last keepDeparted that left, forgets older ones', () => {
    const b = new CapacityBook(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) b.set(id, snap(id));
    for (const id of ['a', 'b', 'c', 'd']) b.left(id);
    assert.deepEqual([...b.keys()].sort(), ['b', 'c', 'd', 'e']);
    assert.equal(b.departedCount, 3);
    // A departed node that reports again is present again and no longer counts as departed.
    b.set('c', snap('c'));
    b.left('e');
    assert.deepEqual([...b.keys()].sort(), ['b', 'c', 'd', 'e']);
    b.left('x');
    assert.equal(b.size, 4, 'leaving without a report changes nothing');
    for (let i = 0; i < 10_000; i++) {
      b.set(`n${i}`, snap(`n${i}`));
      b.left(`n${i}`);
    }
    assert.deepEqual([...b.keys()].sort(), ['c', 'n9997', 'n9998', 'n9999']);
  });

  it('one refusal event line: counts by kind and the busiest sources', () => {
    const text = refusalEventText({
      intervalMs: 10_000, total: 1003, byKind: { 'hello:unauthorized': 1000, no_hello: 3 },
      top: [{ kind: 'hello:unauthorized', source: '10.0.0.7', count: 900 }, { kind: 'hello:unauthorized', source: '10.0.0.8', count: 100 }],
    });
    assert.equal(text, 'refused 1003 edge connections in the last 10 s: hello:unauthorized x1000, no_hello x3; busiest: 10.0.0.7 (hello:unauthorized x900), 10.0.0.8 (hello:unauthorized x100)');
  });
});
