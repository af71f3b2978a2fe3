import { strict as assert } from 'node:assert';
import { ProtocolError, Role } from '@hsfl/protocol';
import { checkHello, logsAttempt, mustReconnectItself, reconnectDelay, secondHelloVerdict } from './link-rules.js';

const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

describe('link rules (no sockets)', () => {
  const expect = { token: 't0k3n', role: Role.ROLE_DEVICE, childName: 'device' };

  it('a hello joins with the right token, role and a valid id', () => {
    assert.equal(checkHello({ token: 't0k3n', role: Role.ROLE_DEVICE, nodeId: 'pi-01' }, expect), 'pi-01');
  });

  it('refuses a wrong token (unauthorized), another role and bad or reserved ids (malformed)', () => {
    assert.throws(() => checkHello({ token: 'nope', role: Role.ROLE_DEVICE, nodeId: 'pi-01' }, expect), code('unauthorized'));
    assert.throws(() => checkHello({ token: 't0k3n', role: Role.ROLE_EDGE, nodeId: 'pi-01' }, expect), code('malformed'));
    for (const nodeId of ['cloud', '', 'x'.repeat(65), 'bad id', 'é']) {
      assert.throws(() => checkHello({ token: 't0k3n', role: Role.ROLE_DEVICE, nodeId }, expect), code('malformed'), nodeId);
    }
  });

  it('a second hello under a taken id: the holder that answers keeps it, a silent one is replaced, a freed id is joined', () => {
    const holder = { id: 'pi-01' };
    assert.equal(secondHelloVerdict(holder, holder, true), 'refuse');
    assert.equal(secondHelloVerdict(holder, holder, false), 'replace');
    assert.equal(secondHelloVerdict(holder, undefined, true), 'join');
    assert.equal(secondHelloVerdict(holder, undefined, false), 'join');
    // Someone else took the id while the check ran: never replace a holder nobody asked about.
    assert.equal(secondHelloVerdict(holder, { id: 'pi-01' }, false), 'refuse');
  });

  it('reconnects with doubling delays capped at the maximum', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => reconnectDelay(n, 250, 5000)), [500, 1000, 2000, 4000, 5000, 5000]);
    assert.equal(reconnectDelay(0, 250, 5000), 500);
    assert.equal(reconnectDelay(1e6, 250, 5000), 5000);
  });

  it('logs the first three attempts and every tenth', () => {
    assert.deepEqual(Array.from({ length: 30 }, (_, i) => i + 1).filter(logsAttempt), [1, 2, 3, 10, 20, 30]);
  });

  it('reconnects by itself after the parent closed the connection; other reasons are socket.io-client\'s', () => {
    assert.equal(mustReconnectItself('io server disconnect'), true);
    for (const r of ['transport close', 'ping timeout', 'transport error', 'io client disconnect']) assert.equal(mustReconnectItself(r), false, r);
  });
});
