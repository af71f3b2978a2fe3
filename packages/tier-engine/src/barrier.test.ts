import { strict as assert } from 'node:assert';
import { ProtocolError } from '@hsfl/protocol';
import { Deadline, RoundBarrier } from './barrier.js';

/** Asserts fn throws a ProtocolError with the given code. */
function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.code === code);
}

const ids = (s: ReadonlySet<string> | ReadonlyMap<string, unknown>) => [...s.keys()].sort();

/** A barrier over a, b, c where every child delivered its name. */
function allDelivered(): RoundBarrier<string, number> {
  const b = new RoundBarrier<string, number>(7, ['a', 'b', 'c']);
  for (const id of ['c', 'a', 'b']) b.deliver(id, `p-${id}`);
  return b;
}

describe('RoundBarrier', () => {
  describe('phases', () => {
    it('edge path: collect -> up -> down -> done', () => {
      const b = allDelivered();
      assert.equal(b.phase, 'collect');
      assert.equal(b.round, 7);
      assert.equal(b.collectReady, true);
      assert.equal(b.downReady, false);
      const got = b.closeCollect('up');
      assert.deepEqual(got, [
        { id: 'a', payload: 'p-a' },
        { id: 'b', payload: 'p-b' },
        { id: 'c', payload: 'p-c' },
      ]);
      assert.equal(b.phase, 'up');
      assert.equal(b.collectReady, false, 'collectReady is only true while collecting');
      assert.deepEqual(b.beginDown(), ['a', 'b', 'c']);
      assert.equal(b.phase, 'down');
      assert.deepEqual(ids(b.owed), ['a', 'b', 'c']);
      assert.equal(b.downReady, false);
      assert.ok(b.owes('a'));
      b.report('b', 2);
      b.report('a', 1);
      assert.equal(b.downReady, false);
      assert.ok(!b.owes('a'));
      b.report('c', 3);
      assert.equal(b.downReady, true);
      assert.deepEqual([...b.reports.entries()].sort(), [['a', 1], ['b', 2], ['c', 3]]);
      assert.equal(b.late.size, 0);
      b.finish();
      assert.equal(b.phase, 'done');
      assert.equal(b.downReady, false);
      assert.equal(b.collectReady, false);
    });

    it('cloud path: collect -> down (closeCollect("down") then beginDown)', () => {
      const b = allDelivered();
      b.closeCollect('down');
      assert.equal(b.phase, 'down');
      assert.equal(b.downReady, true, 'nobody owed before beginDown');
      assert.deepEqual(b.beginDown(), ['a', 'b', 'c']);
      assert.equal(b.downReady, false);
      assert.deepEqual(ids(b.owed), ['a', 'b', 'c']);
    });

    it('illegal moves throw', () => {
      const b = allDelivered();
      assert.throws(() => b.beginDown(), /cannot move from collect/);
      assert.equal(b.phase, 'collect');
      b.closeCollect('up');
      assert.throws(() => b.closeCollect('up'), /cannot move from up/);
      assert.throws(() => b.closeCollect('down'), /cannot move from up/);
      b.beginDown();
      assert.throws(() => b.closeCollect('down'), /cannot move from down/);
      b.finish();
      assert.throws(() => b.beginDown(), /cannot move from done/);
      assert.throws(() => b.closeCollect('up'), /cannot move from done/);
      assert.equal(b.phase, 'done');
    });

    it('nothing is accepted once done', () => {
      const b = new RoundBarrier<string, number>(1, ['a', 'b']);
      b.deliver('a', 'x');
      b.finish();
      throwsCode(() => b.deliver('b', 'y'), 'stale');
      throwsCode(() => b.sitOut('b'), 'stale');
      throwsCode(() => b.report('a', 1), 'stale');
      b.drop('a');
      b.expire();
      assert.equal(b.late.size, 0);
      assert.ok(!b.owes('a'));
    });
  });

  describe('deliver, sitOut, report', () => {
    it('a second delivery, a delivery after sitting out, or one from an unexpected child is stale', () => {
      const b = new RoundBarrier<string, number>(3, ['a', 'b']);
      b.deliver('a', 'first');
      throwsCode(() => b.deliver('a', 'second'), 'stale');
      assert.equal(b.delivered.get('a'), 'first', 'the first delivery stands');
      throwsCode(() => b.deliver('z', 'x'), 'stale');
      throwsCode(() => b.sitOut('z'), 'stale');
      b.sitOut('b');
      throwsCode(() => b.deliver('b', 'x'), 'stale');
      throwsCode(() => b.sitOut('b'), 'stale');
      throwsCode(() => b.sitOut('a'), 'stale');
      assert.deepEqual(ids(b.delivered), ['a']);
    });

    it('no delivery after collect closed', () => {
      const b = new RoundBarrier<string, number>(3, ['a', 'b']);
      b.deliver('a', 'x');
      b.closeCollect('up');
      throwsCode(() => b.deliver('b', 'x'), 'stale');
      throwsCode(() => b.sitOut('b'), 'stale');
    });

    it('sitOut counts toward collectReady, is not returned by closeCollect, is not late and is owed nothing', () => {
      const b = new RoundBarrier<string, number>(3, ['a', 'b']);
      b.sitOut('b');
      assert.deepEqual(ids(b.satOut), ['b']);
      assert.equal(b.collectReady, false);
      b.deliver('a', 'x');
      assert.equal(b.collectReady, true);
      assert.deepEqual(b.closeCollect('up').map((d) => d.id), ['a']);
      b.drop('b');
      assert.deepEqual(b.beginDown(), ['a']);
      assert.equal(b.late.size, 0);
    });

    it('a child that sat out and then leaves during collect is not late', () => {
      const b = new RoundBarrier<string, number>(3, ['a', 'b']);
      b.sitOut('b');
      b.drop('b');
      assert.equal(b.late.size, 0);
      assert.deepEqual(ids(b.satOut), ['b']);
    });

    it('a report from a child not owed is stale (before down, unexpected, twice)', () => {
      const b = new RoundBarrier<string, number>(3, ['a', 'b']);
      b.deliver('a', 'x');
      throwsCode(() => b.report('a', 1), 'stale');
      b.sitOut('b');
      b.closeCollect('up');
      throwsCode(() => b.report('a', 1), 'stale');
      b.beginDown();
      throwsCode(() => b.report('b', 1), 'stale');
      throwsCode(() => b.report('z', 1), 'stale');
      b.report('a', 1);
      throwsCode(() => b.report('a', 2), 'stale');
      assert.equal(b.reports.get('a'), 1);
    });
  });

  describe('drop (a child left)', () => {
    it('during collect, a child that delivered no longer counts: collectReady waits for the others and closeCollect leaves it out', () => {
      // The old edge bug: the edge forwarded as soon as acts.size >= expected.size.
      const b = new RoundBarrier<string, number>(1, ['a', 'b', 'c']);
      b.deliver('a', 'pa');
      b.deliver('b', 'pb');
      b.drop('a');
      assert.deepEqual(ids(b.late), ['a']);
      assert.deepEqual(ids(b.delivered), ['b']);
      assert.equal(b.collectReady, false, 'c has not delivered');
      throwsCode(() => b.deliver('a', 'again'), 'stale');
      b.deliver('c', 'pc');
      assert.equal(b.collectReady, true);
      assert.deepEqual(b.closeCollect('up'), [
        { id: 'b', payload: 'pb' },
        { id: 'c', payload: 'pc' },
      ]);
      assert.deepEqual(b.beginDown(), ['b', 'c']);
      assert.deepEqual(ids(b.late), ['a']);
    });

    it('the last missing child leaving during collect completes collect', () => {
      const b = new RoundBarrier<string, number>(1, ['a', 'b']);
      b.deliver('a', 'pa');
      b.drop('b');
      assert.equal(b.collectReady, true);
      assert.deepEqual(ids(b.late), ['b']);
    });

    it('drop of an unexpected child does nothing', () => {
      const b = new RoundBarrier<string, number>(1, ['a']);
      b.drop('z');
      assert.equal(b.late.size, 0);
      assert.equal(b.collectReady, false);
    });

    it('during up, a child that delivered is not sent to by beginDown and is late', () => {
      const b = allDelivered();
      b.closeCollect('up');
      b.drop('b');
      assert.deepEqual(b.beginDown(), ['a', 'c']);
      assert.deepEqual(ids(b.owed), ['a', 'c']);
      assert.deepEqual(ids(b.late), ['b']);
      throwsCode(() => b.report('b', 1), 'stale');
      b.report('a', 1);
      b.report('c', 1);
      assert.equal(b.downReady, true);
    });

    it('during down, an owed child is released (downReady) and is late', () => {
      const b = allDelivered();
      b.closeCollect('up');
      b.beginDown();
      b.report('a', 1);
      b.report('c', 1);
      assert.equal(b.downReady, false);
      b.drop('b');
      assert.equal(b.downReady, true);
      assert.deepEqual(ids(b.late), ['b']);
      assert.ok(!b.owes('b'));
      throwsCode(() => b.report('b', 1), 'stale');
    });

    it('during down, a child that already reported is not late when it leaves', () => {
      const b = allDelivered();
      b.closeCollect('up');
      b.beginDown();
      b.report('a', 1);
      b.drop('a');
      assert.equal(b.late.size, 0);
      assert.equal(b.reports.get('a'), 1);
    });

    it('cloud path: a child that leaves between closeCollect("down") and beginDown is not sent to and is late', () => {
      // The cloud closes collect straight into 'down', computes, then calls
      // beginDown. A child that disconnects while the cloud computes is
      // dropped in phase 'down' before it is owed: drop() must remember it,
      // as it does in 'up', or beginDown sends to it and the barrier waits
      // for a RoundDone that will never come (until the deadline).
      const b = allDelivered();
      b.closeCollect('down');
      b.drop('b');
      assert.deepEqual(b.beginDown(), ['a', 'c'], 'beginDown must not send to a child that left');
      assert.deepEqual(ids(b.late), ['b']);
      b.report('a', 1);
      b.report('c', 1);
      assert.equal(b.downReady, true, 'the barrier must not wait for the child that left');
    });

    it('a second beginDown does not owe again the children that already reported', () => {
      // beginDown accepts 'down' -> 'down' (for the cloud path above), so a
      // repeated call re-owes every child that reported; a repeated
      // RoundDone would then be accepted and applied twice.
      const b = allDelivered();
      b.closeCollect('up');
      b.beginDown();
      for (const id of ['a', 'b', 'c']) b.report(id, 1);
      assert.equal(b.downReady, true);
      try {
        b.beginDown();
      } catch {
        /* refusing the second call is fine too */
      }
      assert.equal(b.downReady, true, 'nobody is owed twice');
      throwsCode(() => b.report('a', 2), 'stale');
    });

    it('a child that reconnects mid-round (old connection replaced) releases the barrier at once', () => {
      // Down phase: a waits for b's RoundDone; b's connection is replaced by a new one.
      const b = new RoundBarrier<string, number>(4, ['a', 'b']);
      b.deliver('a', 'pa');
      b.deliver('b', 'pb');
      b.closeCollect('up');
      b.beginDown();
      b.report('a', 1);
      assert.equal(b.downReady, false);
      b.drop('b'); // onLeave(old link, 'replaced by a new connection')
      assert.equal(b.downReady, true, 'released at once, no deadline needed');
      assert.deepEqual(ids(b.late), ['b']);
      // The new connection repeats its delivery and its report: both are stale.
      throwsCode(() => b.deliver('b', 'again'), 'stale');
      throwsCode(() => b.report('b', 2), 'stale');

      // Collect phase: b delivered on the old connection, reconnects, delivers again.
      const c = new RoundBarrier<string, number>(5, ['a', 'b']);
      c.deliver('b', 'old');
      c.drop('b');
      throwsCode(() => c.deliver('b', 'new'), 'stale');
      assert.equal(c.collectReady, false);
      c.deliver('a', 'pa');
      assert.equal(c.collectReady, true);
      assert.deepEqual(c.closeCollect('up').map((d) => d.id), ['a']);
    });
  });

  describe('expire (deadline)', () => {
    it('in collect, every missing child is late and collectReady becomes true', () => {
      // The old bug: late was computed after the missing children were removed, so it was always empty.
      const b = new RoundBarrier<string, number>(2, ['a', 'b', 'c', 'd']);
      b.deliver('a', 'pa');
      b.sitOut('d');
      assert.equal(b.collectReady, false);
      b.expire();
      assert.deepEqual(ids(b.late), ['b', 'c']);
      assert.equal(b.collectReady, true);
      throwsCode(() => b.deliver('b', 'too late'), 'stale');
      assert.deepEqual(b.closeCollect('up').map((d) => d.id), ['a']);
      assert.deepEqual(b.beginDown(), ['a']);
      assert.deepEqual(ids(b.late), ['b', 'c']);
    });

    it('in up, nothing changes', () => {
      const b = allDelivered();
      b.closeCollect('up');
      b.expire();
      assert.equal(b.late.size, 0);
      assert.deepEqual(b.beginDown(), ['a', 'b', 'c']);
    });

    it('in down, every owed child is late and downReady becomes true', () => {
      const b = allDelivered();
      b.closeCollect('up');
      b.beginDown();
      b.report('b', 1);
      b.expire();
      assert.deepEqual(ids(b.late), ['a', 'c']);
      assert.equal(b.owed.size, 0);
      assert.equal(b.downReady, true);
      throwsCode(() => b.report('a', 1), 'stale');
      assert.deepEqual(ids(b.reports), ['b']);
    });
  });
});

describe('Deadline', () => {
  it('fires once after arm, re-arming restarts it, clear cancels it', async () => {
    const d = new Deadline();
    let fired = 0;
    d.arm(20, () => fired++);
    d.arm(40, () => (fired += 10)); // replaces the first
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(fired, 10);
    d.arm(20, () => fired++);
    d.clear();
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(fired, 10);
    d.clear(); // harmless twice
  });
});
