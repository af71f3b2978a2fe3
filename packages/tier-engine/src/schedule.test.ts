import { strict as assert } from 'node:assert';
import { FULL_SYNC, isFullSync, periodicSchedule } from './schedule.js';

describe('periodicSchedule', () => {
  it('i1 = 2, i2 = 3 over k = 1..12', () => {
    const s = periodicSchedule(2, 3);
    assert.equal(s.name, 'periodic');
    const flags = Array.from({ length: 12 }, (_, i) => s.at(i + 1));
    assert.deepEqual(flags.map((f) => (f.syncDevices ? 'D' : '-') + (f.syncEdges ? 'E' : '-')), [
      '--', 'D-', '-E', 'D-', '--', 'DE', '--', 'D-', '-E', 'D-', '--', 'DE',
    ]);
    assert.deepEqual(flags.map((f, i) => (isFullSync(f) ? i + 1 : 0)).filter(Boolean), [6, 12]);
  });

  it('i1 = i2 = 1 syncs every round', () => {
    const s = periodicSchedule(1, 1);
    for (let k = 1; k <= 5; k++) assert.ok(isFullSync(s.at(k)));
  });

  it('refuses intervals that are not whole numbers >= 1', () => {
    for (const [a, b] of [[0, 1], [1, 0], [-1, 2], [1.5, 2], [2, NaN], [Infinity, 1]]) {
      assert.throws(() => periodicSchedule(a!, b!), /must be a whole number >= 1/, `${a}, ${b}`);
    }
  });

  it('FULL_SYNC is full and frozen', () => {
    assert.ok(isFullSync(FULL_SYNC));
    assert.ok(!isFullSync({ syncDevices: true, syncEdges: false }));
    assert.ok(!isFullSync({ syncDevices: false, syncEdges: true }));
    assert.ok(Object.isFrozen(FULL_SYNC));
  });
});
