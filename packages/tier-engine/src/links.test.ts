import { strict as assert } from 'node:assert';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import {
  EVENTS, MAX_MESSAGE_BYTES, Mailbox, Peer, Role, type ErrorReply,
} from '@hsfl/protocol';
import { ALIVE_EVENT, type ChildLinksOptions } from './child-link.js';
import { ParentLink } from './parent-link.js';
import { Server, TOKEN, listen, memLog, portOf, sleep, until } from './testing/link-fixtures.js';

/** A ParentLink under `nodeId`, recording the error replies it gets. */
class Child {
  readonly log = memLog();
  readonly mailbox = new Mailbox();
  readonly errors: ErrorReply[] = [];
  readonly events: string[] = [];
  readonly link: ParentLink;
  connects = 0;

  constructor(url: string, readonly nodeId: string, token = TOKEN, role: Role = Role.ROLE_EDGE) {
    this.link = new ParentLink({
      url,
      parentName: 'cloud',
      log: this.log,
      mailbox: this.mailbox,
      hello: () => ({ nodeId, role, token, backend: 'cpu', numSamples: 10, software: 'test', host: 'localhost' }),
      maxBytes: () => MAX_MESSAGE_BYTES,
      minDelayMs: 30,
      maxDelayMs: 150,
    });
    this.link.peer.onErrorReply((e) => void this.errors.push(e));
    this.link.on('connected', () => {
      this.connects++;
      this.events.push('connected');
    });
    this.link.on('disconnected', (r: string) => void this.events.push(`disconnected:${r}`));
    this.link.on('gone', (r: string) => void this.events.push(`gone:${r}`));
    this.link.start();
  }

  codes(): string[] {
    return this.errors.map((e) => e.code);
  }

  close(): void {
    this.link.close();
  }
}

describe('ChildLinks + ParentLink over loopback sockets', function () {
  this.timeout(15000);
  const servers: Server[] = [];
  const children: Child[] = [];
  const raw: ClientSocket[] = [];

  async function server(port = 0, over: Partial<ChildLinksOptions> = {}): Promise<Server> {
    const s = await Server.start(port, over);
    servers.push(s);
    return s;
  }
  function child(url: string, nodeId: string, token = TOKEN, role: Role = Role.ROLE_EDGE): Child {
    const c = new Child(url, nodeId, token, role);
    children.push(c);
    return c;
  }
  function rawSocket(url: string): ClientSocket {
    const s = ioClient(url, { transports: ['websocket'], reconnection: false });
    raw.push(s);
    return s;
  }

  afterEach(async () => {
    for (const c of children.splice(0)) c.close();
    for (const s of raw.splice(0)) s.disconnect();
    for (const s of servers.splice(0)) await s.close();
  });

  after(async () => {
    // Nothing may keep the process alive: mocha must exit without --exit.
    await sleep(300);
    const left = process.getActiveResourcesInfo().filter((r) => /^TCP/.test(r));
    assert.deepEqual(left, [], `handles left open: ${left.join(', ')}`);
  });

  it('a hello with the right token joins (onJoin), and the link is listed by id', async () => {
    const s = await server();
    const c = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'join');
    const link = s.joins[0]!;
    assert.equal(link.id, 'edge-1');
    assert.equal(link.hello.numSamples, 10);
    assert.equal(link.hello.role, Role.ROLE_EDGE);
    assert.equal(s.links.get('edge-1'), link);
    assert.deepEqual([...s.links.all.keys()], ['edge-1']);
    assert.ok(c.link.connected);
    assert.deepEqual(c.errors, []);
  });

  it('messages from joined children reach the handler with their link', async () => {
    const s = await server();
    const got: { id: string; nodeId: string }[] = [];
    s.links.on(EVENTS.heartbeat, (link, m) => void got.push({ id: link.id, nodeId: m.nodeId }));
    const c = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'join');
    assert.ok(c.link.send(EVENTS.heartbeat, { nodeId: 'edge-1', timeMs: 1 }));
    await until(() => got.length === 1, 'heartbeat');
    assert.deepEqual(got, [{ id: 'edge-1', nodeId: 'edge-1' }]);
  });

  it('a wrong token is refused (unauthorized) and the connection closed', async () => {
    const s = await server();
    const c = child(s.url, 'edge-1', 'wrong');
    await until(() => c.codes().includes('unauthorized'), 'unauthorized');
    await until(() => c.events.some((e) => e.startsWith('disconnected')), 'disconnect by the server');
    assert.equal(s.joins.length, 0);
    assert.equal(s.links.all.size, 0);
    assert.ok(s.log.lines.some((l) => /wrong join token/.test(l.msg ?? '')));
  });

  it("the cloud's id and the wrong role are refused (malformed)", async () => {
    const s = await server();
    const a = child(s.url, 'cloud');
    const b = child(s.url, 'dev-1', TOKEN, Role.ROLE_DEVICE);
    const d = child(s.url, 'bad id!');
    await until(() => a.codes().includes('malformed') && b.codes().includes('malformed') && d.codes().includes('malformed'), 'refusals');
    assert.match(a.errors[0]!.message, /reserved/);
    assert.match(b.errors[0]!.message, /only edges/);
    await sleep(50);
    assert.equal(s.joins.length, 0);
  });

  it('a second ParentLink under a taken id is refused (duplicate_id) while the holder answers; the holder stays joined', async () => {
    const s = await server();
    const first = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'first join');
    const holder = s.joins[0]!;
    const second = child(s.url, 'edge-1');
    await until(() => second.codes().includes('duplicate_id'), 'duplicate_id');
    assert.equal(s.links.get('edge-1'), holder, 'the holder keeps the id');
    assert.equal(s.joins.length, 1);
    assert.equal(s.leaves.length, 0);
    assert.ok(holder.socket.connected, 'the holder keeps its connection');
    assert.ok(first.link.connected);
    assert.equal(first.connects, 1, 'the holder never reconnected');
    second.close();
    await sleep(400); // past the refusal's delayed disconnect
    assert.ok(first.link.connected);
    assert.equal(s.links.get('edge-1'), holder);
  });

  it('a holder that no longer answers the liveness check is replaced by the newcomer (onLeave: replaced by a new connection)', async () => {
    const s = await server();
    const first = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'first join');
    const old = s.joins[0]!;
    first.link.socket.off(ALIVE_EVENT); // silent from now on
    const second = child(s.url, 'edge-1');
    await until(() => s.joins.length === 2, 'newcomer join');
    const now = s.joins[1]!;
    assert.notEqual(now, old);
    assert.equal(s.links.get('edge-1'), now);
    assert.deepEqual(s.leaves.map((l) => [l.link, l.reason]), [[old, 'replaced by a new connection']]);
    assert.deepEqual(second.codes(), []);
    first.close(); // or it comes back and is itself refused
    await sleep(100);
    assert.equal(s.leaves.length, 1, 'the old connection leaves once');
    assert.equal(s.links.get('edge-1'), now);
  });

  it('a holder whose connection is already gone is replaced without waiting', async () => {
    const t = await server(0, { aliveTimeoutMs: 5000 });
    const first = child(t.url, 'edge-1');
    await until(() => t.joins.length === 1, 'first join');
    first.link.socket.io.engine.close(); // transport dies; the server notices at once
    first.close();
    const second = child(t.url, 'edge-1');
    const start = Date.now();
    await until(() => t.joins.length === 2, 'newcomer join', 2000);
    assert.equal(t.links.get('edge-1'), t.joins[1]);
    assert.ok(Date.now() - start < 2000);
    assert.ok(second.link.connected);
  });

  it('a server-initiated disconnect makes the ParentLink reconnect by itself and say hello again', async () => {
    const s = await server();
    const c = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'join');
    s.joins[0]!.socket.disconnect(true);
    await until(() => s.joins.length === 2, 'rejoin');
    assert.ok(c.events.includes('disconnected:io server disconnect'));
    assert.equal(c.connects, 2);
    assert.deepEqual(s.leaves.map((l) => l.reason), ['server namespace disconnect']);
    assert.equal(s.links.get('edge-1'), s.joins[1]);
    assert.ok(!c.link.isClosed);
  });

  it('a permanent Goodbye (sendAway) makes it emit gone and not reconnect', async () => {
    const s = await server();
    const c = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'join');
    s.links.sendAway(s.joins[0]!, 'removed', true);
    assert.deepEqual(s.leaves.map((l) => l.reason), ['removed'], 'it leaves at once');
    assert.equal(s.links.get('edge-1'), undefined);
    await until(() => c.events.includes('gone:removed'), 'gone');
    assert.ok(c.link.isClosed);
    await sleep(500);
    assert.equal(s.joins.length, 1, 'no reconnection');
    assert.equal(c.connects, 1);
    assert.ok(!c.link.connected);
    assert.equal(s.leaves.length, 1, 'the disconnect that follows does not leave twice');
  });

  it('a temporary Goodbye (sendAway) lets it come back', async () => {
    const s = await server();
    const c = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'join');
    s.links.sendAway(s.joins[0]!, 'rebalancing', false);
    await until(() => s.joins.length === 2, 'rejoin');
    assert.ok(!c.link.isClosed);
    assert.deepEqual(s.leaves.map((l) => l.reason), ['rebalancing']);
  });

  it('ChildLinks.close(reason, false): children reconnect once a new ChildLinks listens on the same port', async () => {
    const s = await server();
    const port = s.port;
    const a = child(s.url, 'edge-1');
    const b = child(s.url, 'edge-2');
    await until(() => s.joins.length === 2, 'joins');
    await s.close(false);
    await until(() => !a.link.connected && !b.link.connected, 'disconnects');
    assert.ok(!a.link.isClosed && !b.link.isClosed);
    await sleep(300); // a few failed attempts while nobody listens
    const t = await server(port);
    await until(() => t.joins.length === 2, 'rejoin at the new server', 5000);
    assert.deepEqual(t.joins.map((l) => l.id).sort(), ['edge-1', 'edge-2']);
    assert.ok(a.link.connected && b.link.connected);
  });

  it('a ParentLink started before its parent listens joins once the parent is up', async () => {
    const probe = await listen();
    const port = portOf(probe);
    await new Promise((r) => probe.close(r));
    const c = child(`http://127.0.0.1:${port}`, 'edge-1');
    await sleep(250); // a few refused attempts
    assert.ok(!c.link.connected);
    const s = await server(port);
    await until(() => s.joins.length === 1, 'join', 5000);
    assert.equal(c.connects, 1);
  });

  it('ChildLinks.close(reason, true): children are gone for good', async () => {
    const s = await server();
    const c = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'join');
    await s.close(true);
    await until(() => c.events.includes('gone:test over'), 'gone');
    assert.ok(c.link.isClosed);
  });

  it("messages from a socket that has not said hello are answered 'not_joined'", async () => {
    const s = await server();
    let handled = 0;
    s.links.on(EVENTS.heartbeat, () => void handled++);
    const sock = rawSocket(s.url);
    const peer = new Peer(sock, { name: 'server', log: memLog(), mailbox: new Mailbox() });
    const errs: ErrorReply[] = [];
    peer.onErrorReply((e) => void errs.push(e));
    await until(() => sock.connected, 'raw connect');
    peer.send(EVENTS.heartbeat, { nodeId: 'edge-1', timeMs: 1 });
    await until(() => errs.length === 1, 'error reply');
    assert.equal(errs[0]!.code, 'not_joined');
    assert.equal(errs[0]!.event, EVENTS.heartbeat);
    assert.equal(handled, 0);
  });

  it('a connection that says no hello in time is closed', async () => {
    const s = await server(0, { helloTimeoutMs: 150 });
    const sock = rawSocket(s.url);
    await until(() => sock.connected, 'raw connect');
    let reason = '';
    sock.on('disconnect', (r) => (reason = r));
    await until(() => reason !== '', 'hello timeout', 2000);
    assert.equal(reason, 'io server disconnect');
    assert.ok(s.log.lines.some((l) => /no hello in time/.test(l.msg ?? '')));
  });

  it('a second hello on a joined connection is refused (malformed)', async () => {
    const s = await server();
    const c = child(s.url, 'edge-1');
    await until(() => s.joins.length === 1, 'join');
    c.link.peer.send(EVENTS.hello, { nodeId: 'edge-2', role: Role.ROLE_EDGE, token: TOKEN });
    await until(() => c.codes().includes('malformed'), 'refusal');
    assert.deepEqual([...s.links.all.keys()], ['edge-1']);
  });
});
