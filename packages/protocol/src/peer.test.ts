import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import {
  EVENTS, Mailbox, Peer, ProtocolError, checkHeader, encodeTensor, expectTensor,
  type ByteTotals, type ErrorReply, type LogLike, type SocketLike,
} from './index.js';

/** Two connected in-memory sockets: emit on one fires listeners on the other. */
function socketPair(): [SocketLike, SocketLike] {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const wrap = (self: EventEmitter, other: EventEmitter): SocketLike => ({
    on: (ev, fn) => self.on(ev, fn),
    // socket.io delivers a Buffer; copy so that no memory is shared
    emit: (ev, payload: Uint8Array) => setImmediate(() => other.emit(ev, Buffer.from(payload))),
  });
  return [wrap(a, b), wrap(b, a)];
}

function memLog(): LogLike & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Peer and Mailbox', () => {
  it('Mailbox runs tasks one at a time, in order, surviving failures', async () => {
    const errors: unknown[] = [];
    const mb = new Mailbox((e) => errors.push(e));
    const order: string[] = [];
    const slow = mb.run(async () => {
      order.push('a<');
      await tick();
      order.push('a>');
      return 1;
    });
    const bad = mb.run(() => {
      throw new Error('boom');
    });
    const fast = mb.run(() => {
      order.push('c');
      return 3;
    });
    assert.equal(await slow, 1);
    assert.equal(await bad, undefined);
    assert.equal(await fast, 3);
    assert.deepEqual(order, ['a<', 'a>', 'c']);
    assert.equal(errors.length, 1);
    await mb.idle();
    assert.equal(mb.size, 0);
  });

  it('sends typed messages, counts bytes, and replies to rejected ones with the right code', async () => {
    const [sa, sb] = socketPair();
    const logA = memLog();
    const logB = memLog();
    const totalsA: ByteTotals = { bytesIn: 0, bytesOut: 0 };
    const totalsB: ByteTotals = { bytesIn: 0, bytesOut: 0 };
    const a = new Peer(sa, { name: 'b', log: logA, mailbox: new Mailbox(), totals: totalsA });
    const b = new Peer(sb, { name: 'a', log: logB, mailbox: new Mailbox(), totals: totalsB, maxBytes: () => 4096 });
    const got: number[][] = [];
    b.on(EVENTS.gradients, (m) => {
      checkHeader(m.header, { runId: 'r', planVersion: 1, round: 2 });
      got.push(Array.from(expectTensor(m.gradients, { shape: [2], dtype: 'float32' }).data));
    });
    const replies: ErrorReply[] = [];
    a.onErrorReply((e) => void replies.push(e));
    b.onErrorReply(() => assert.fail('b should get no error replies'));

    const n1 = a.send(EVENTS.gradients, { header: { runId: 'r', planVersion: 1, round: 2 }, gradients: encodeTensor(new Float32Array([1, 2]), [2]) });
    a.send(EVENTS.gradients, { header: { runId: 'r', planVersion: 1, round: 1 }, gradients: encodeTensor(new Float32Array([3, 4]), [2]) });
    a.send(EVENTS.gradients, { header: { runId: 'r', planVersion: 1, round: 2 }, gradients: encodeTensor(new Float32Array([NaN, 4]), [2]) });
    a.send(EVENTS.gradients, { header: { runId: 'r', planVersion: 1, round: 2 }, gradients: encodeTensor(new Float32Array(2000), [2000]) });
    sa.emit(EVENTS.gradients, Buffer.from('not protobuf at all'));
    await tick();
    await tick();

    assert.deepEqual(got, [[1, 2]]);
    assert.deepEqual(replies.map((r) => r.code), ['stale', 'not_finite', 'too_large', 'malformed']);
    assert.equal(replies[0]!.event, EVENTS.gradients);
    assert.equal(replies[0]!.header?.round, 1);
    assert.ok(replies.every((r) => r.message.length > 0));
    assert.ok(n1 > 8 && totalsA.bytesOut >= n1 * 3);
    assert.equal(totalsB.bytesIn, totalsA.bytesOut + 'not protobuf at all'.length);
    assert.equal(logB.lines.filter((l) => l.level === 'warn').length, 4);
  });

  it('answers non-protocol handler failures with internal and keeps going', async () => {
    const [sa, sb] = socketPair();
    const a = new Peer(sa, { name: 'b', log: memLog(), mailbox: new Mailbox() });
    const logB = memLog();
    const b = new Peer(sb, { name: 'a', log: logB, mailbox: new Mailbox() });
    let calls = 0;
    b.on(EVENTS.heartbeat, (m) => {
      calls++;
      if (m.nodeId === 'bug') throw new TypeError('oops');
      if (m.nodeId === 'refuse') throw new ProtocolError('unauthorized', 'no');
    });
    const codes: string[] = [];
    a.onErrorReply((e) => void codes.push(e.code));
    for (const nodeId of ['ok', 'bug', 'refuse', 'ok']) a.send(EVENTS.heartbeat, { nodeId, timeMs: Date.now() });
    await tick();
    await tick();
    assert.equal(calls, 4);
    assert.deepEqual(codes, ['internal', 'unauthorized']);
    assert.equal(logB.lines.filter((l) => l.level === 'error').length, 1);
  });

  it('never answers an undecodable error reply (no error loops)', async () => {
    const [sa, sb] = socketPair();
    const logA = memLog();
    const a = new Peer(sa, { name: 'b', log: logA, mailbox: new Mailbox() });
    let replies = 0;
    a.onErrorReply(() => void replies++);
    sb.emit(EVENTS.error, Buffer.from([0xff, 0xff, 0xff]));
    let bGot = 0;
    sb.on(EVENTS.error, () => void bGot++);
    await tick();
    assert.equal(replies, 0);
    assert.equal(bGot, 0);
    assert.equal(logA.lines.length, 1);
    assert.throws(() => a.on(EVENTS.error, () => {}));
  });
});
