import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { EVENTS, Role, clip, decodeMessage, encodeMessage, type MessageOf } from '@hsfl/protocol';
import type { ChildLinksOptions } from './child-link.js';
import type { RefusalReport } from './failure-log.js';
import { RawSocketIo, RawWebSocket, type RawOpenOptions } from './testing/raw-ws.js';
import { Server, TOKEN, sleep, until, type Line } from './testing/link-fixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const rss = () => process.memoryUsage.rss();

const hello = (nodeId: string, token = TOKEN, role = Role.ROLE_EDGE) =>
  encodeMessage(EVENTS.hello, { nodeId, role, token, backend: 'cpu', numSamples: 1, software: 'test', host: 'localhost' });
const probe = (id: number, replyBytes: number) => encodeMessage(EVENTS.probe, { id, payload: new Uint8Array(0), replyBytes });
const errorsOf = (sio: RawSocketIo) => sio.received(EVENTS.error).map((b) => decodeMessage(EVENTS.error, b));
const linesOf = (lines: Line[], kind: string) => lines.filter((l) => (l.obj as { kind?: string }).kind === kind);

/** Waits for a promise, failing after ms. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('link server hardening: hostile clients over loopback sockets', function () {
  this.timeout(60000);
  const servers: Server[] = [];
  const raws: RawWebSocket[] = [];

  async function server(over: Partial<ChildLinksOptions> = {}): Promise<Server> {
    const s = await Server.start(0, over);
    servers.push(s);
    return s;
  }
  async function raw(port: number, o: RawOpenOptions = {}) {
    const r = await RawWebSocket.open(port, o);
    raws.push(r.ws);
    return r;
  }
  /** A raw client with the socket.io namespace open. */
  async function rawIo(port: number, o: RawOpenOptions = {}): Promise<RawSocketIo> {
    const { ws, answer } = await raw(port, o);
    assert.ok(answer.ok, `upgrade refused: ${JSON.stringify(answer)}`);
    const sio = new RawSocketIo(ws);
    await sio.connect();
    return sio;
  }

  afterEach(async () => {
    for (const r of raws.splice(0)) r.destroy();
    for (const s of servers.splice(0)) await s.close();
  });

  after(async () => {
    await sleep(300);
    const left = process.getActiveResourcesInfo().filter((r) => /^TCP/.test(r));
    assert.deepEqual(left, [], `handles left open: ${left.join(', ')}`);
  });

  it('probes before hello get nothing, not even an error reply; after hello they are answered', async () => {
    const s = await server();
    const sio = await rawIo(s.port);
    for (let i = 0; i < 200; i++) sio.emit(EVENTS.probe, probe(i, 8 * MiB));
    await sleep(300);
    assert.equal(sio.received(EVENTS.probeReply).length, 0);
    assert.deepEqual(errorsOf(sio), []);
    assert.equal(linesOf(s.log.lines, 'probe:not_joined').length, 1, 'one log line for 200 dropped probes');
    sio.emit(EVENTS.hello, hello('edge-1'));
    await until(() => s.links.get('edge-1') !== undefined, 'join');
    sio.emit(EVENTS.probe, probe(999, 1000));
    await until(() => sio.received(EVENTS.probeReply).length === 1, 'probe reply');
    const reply = decodeMessage(EVENTS.probeReply, sio.received(EVENTS.probeReply)[0]!);
    assert.deepEqual([reply.id, reply.payload.byteLength], [999, 1000]);
  });

  it('a joined child that stops reading and floods probes asking 16 GiB: at most one reply is held, RSS grows < 48 MiB', async () => {
    const s = await server();
    let heartbeats = 0;
    s.links.on(EVENTS.heartbeat, () => void heartbeats++);
    const sio = await rawIo(s.port);
    sio.emit(EVENTS.hello, hello('edge-flood'));
    await until(() => s.links.get('edge-flood') !== undefined, 'join');
    sio.ws.pauseReading();
    const before = rss();
    for (let i = 0; i < 2000; i++) sio.emit(EVENTS.probe, probe(i, 8 * MiB));
    // Events are handled in arrival order: once this one is, every probe before it was.
    sio.emit(EVENTS.heartbeat, encodeMessage(EVENTS.heartbeat, { nodeId: 'edge-flood', timeMs: 1 }));
    await until(() => heartbeats === 1, 'the flood to be read', 20000);
    const grew = rss() - before;
    assert.ok(grew < 48 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB`);
    assert.equal(linesOf(s.log.lines, 'probe:not_reading').length, 1, 'the drops are logged once');
    // The server still serves others.
    const other = await rawIo(s.port);
    other.emit(EVENTS.hello, hello('edge-2'));
    await until(() => s.links.get('edge-2') !== undefined, 'another join');
  });

  it('a 10 MiB message before hello, on 16 connections at once, is cut at the 64 KiB pre-hello budget without being buffered; the server stays up', async () => {
    const reports: RefusalReport[] = [];
    const s = await server({ onRefusals: (r) => void reports.push(r) });
    const before = rss();
    const conns = await Promise.all(Array.from({ length: 16 }, () => rawIo(s.port)));
    const sent = await Promise.all(conns.map((sio) => {
      sio.ws.sendText(`451-${JSON.stringify([EVENTS.activations, { _placeholder: true, num: 0 }])}`);
      return sio.ws.streamBinary(10 * MiB);
    }));
    await within(Promise.all(conns.map((c) => c.ws.closed)), 5000, 'every connection to be cut');
    const grew = rss() - before;
    assert.ok(grew < 32 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB for ${(sent.reduce((a, b) => a + b, 0) / MiB).toFixed(0)} MiB sent`);
    assert.equal(s.links.all.size, 0);
    const other = await rawIo(s.port);
    other.emit(EVENTS.hello, hello('edge-1'));
    await until(() => s.links.get('edge-1') !== undefined, 'a join after the flood');
    await s.close();
    assert.equal(reports.reduce((a, r) => a + (r.byKind.pre_hello_budget ?? 0), 0), 16);
    assert.equal(linesOf(s.log.lines, 'pre_hello_budget').length, 2, 'one line in full and one with the count of the other 15');
  });

  it('after hello the big per-message limit applies: a joined child may send a 10 MiB message', async () => {
    const s = await server();
    let got = 0;
    s.links.on(EVENTS.heartbeat, () => void got++);
    const sio = await rawIo(s.port);
    sio.emit(EVENTS.hello, hello('edge-1'));
    await until(() => s.links.get('edge-1') !== undefined, 'join');
    // A 10 MiB message (undecodable as a heartbeat, so refused, but read whole and answered).
    sio.ws.sendText(`451-${JSON.stringify([EVENTS.heartbeat, { _placeholder: true, num: 0 }])}`);
    await sio.ws.streamBinary(10 * MiB);
    // Zeros decode as an empty heartbeat or fail to decode: either way the message was read whole and the connection stays.
    await until(() => got === 1 || errorsOf(sio).length === 1, 'the message to be handled or refused', 10000);
    assert.ok(sio.ws.isOpen);
    assert.equal(s.links.get('edge-1')?.id, 'edge-1');
  });

  it('an idle connection is closed after the hello timeout: engine.io only, and with the namespace open', async () => {
    const s = await server({ helloTimeoutMs: 300 });
    const t0 = Date.now();
    const bare = (await raw(s.port)).ws;
    const opened = await rawIo(s.port);
    await within(Promise.all([bare.closed, opened.ws.closed]), 3000, 'both to be closed');
    const ms = Date.now() - t0;
    assert.ok(ms >= 250, `closed after ${ms} ms`);
    assert.ok(s.log.lines.some((l) => /no hello in time/.test(l.msg ?? '')));
  });

  it('a client that ignores the close is cut at the transport a second later', async () => {
    const s = await server({ helloTimeoutMs: 200 });
    const sio = await rawIo(s.port);
    sio.ws.answersClose = false;
    const t0 = Date.now();
    await within(sio.ws.closed, 3000, 'the connection to be destroyed');
    assert.ok(Date.now() - t0 < 2500);
  });

  it('per address: past the burst a connection is told rate_limited and closed, further ones are cut at the upgrade; other addresses still join', async () => {
    const s = await server({ limits: { connectBurst: 3, connectPerSecond: 0.001 } });
    const from = { localAddress: '127.0.0.2' };
    for (let i = 0; i < 3; i++) await rawIo(s.port, from);
    const told = await rawIo(s.port, from);
    await until(() => errorsOf(told).length === 1, 'the rate_limited reply');
    const err = errorsOf(told)[0]!;
    assert.equal(err.code, 'rate_limited');
    assert.match(err.message, /too many connection attempts from 127\.0\.0\.2; retry in \d+ s/);
    await within(told.ws.closed, 2000, 'the refused connection to close');
    const cut = await raw(s.port, from);
    assert.equal(cut.answer.ok, false);
    assert.deepEqual(cut.answer.ok ? [] : [cut.answer.status, cut.answer.body], [400, 'rate_limited']);
    const elsewhere = await rawIo(s.port, { localAddress: '127.0.0.3' });
    elsewhere.emit(EVENTS.hello, hello('edge-9'));
    await until(() => s.links.get('edge-9') !== undefined, 'a join from another address');
    assert.equal(linesOf(s.log.lines, 'rate_limited').length, 1);
  });

  it('the per-address table stays within maxAddresses however many sources connect', async () => {
    const s = await server({ limits: { maxAddresses: 8 } });
    for (let i = 10; i < 50; i++) {
      const { ws } = await raw(s.port, { localAddress: `127.0.0.${i}` });
      ws.destroy();
      assert.ok(s.links.trackedAddresses <= 8, `${s.links.trackedAddresses} tracked`);
    }
    assert.equal(s.links.trackedAddresses, 8);
  });

  it('2000 wrong hellos, one in ten with a 100 kB id: each closed at once; a bounded number of log lines and refusal reports, ids cut to 64 characters', async () => {
    const reports: RefusalReport[] = [];
    const s = await server({
      // Let the 100 kB ids through the pre-hello budget, and every attempt through the address limit: this test is about the hello.
      limits: { preHelloBytes: 256 * KiB, connectBurst: 1e6, connectPerSecond: 1e6, logIntervalMs: 500 },
      onRefusals: (r) => void reports.push(r),
    });
    const N = 2000;
    const bigId = 'x'.repeat(100_000);
    const t0 = Date.now();
    let next = 0;
    const closeMs: number[] = [];
    const worker = async () => {
      for (let i = next++; i < N; i = next++) {
        const sio = await rawIo(s.port);
        sio.emit(EVENTS.hello, hello(i % 10 === 0 ? bigId : `intruder-${i}`, `wrong-${i}`));
        assert.equal(decodeMessage(EVENTS.error, await sio.nextEvent(EVENTS.error)).code, 'unauthorized');
        const replied = Date.now();
        await within(sio.ws.closed, 2000, 'the close after the refusal');
        closeMs.push(Date.now() - replied);
        raws.splice(raws.indexOf(sio.ws), 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const elapsed = Date.now() - t0;
    await s.close();
    const intervals = Math.ceil(elapsed / 500) + 2;
    const full = s.log.lines.filter((l) => /wrong join token/.test(l.msg ?? ''));
    const summaries = linesOf(s.log.lines, 'hello:unauthorized');
    assert.ok(full.length >= 1 && full.length <= intervals, `${full.length} full lines in ${elapsed} ms`);
    assert.ok(summaries.length <= intervals, `${summaries.length} summary lines`);
    const counted = full.length + summaries.reduce((a, l) => a + (l.obj as { count: number }).count, 0);
    assert.equal(counted, N, 'every refusal is either logged or counted');
    assert.equal((full[0]!.obj as { node: string }).node, clip(bigId, 64), 'the first (100 kB) id is logged cut');
    for (const l of s.log.lines) assert.ok(JSON.stringify(l).length < 1000, `a log line of ${JSON.stringify(l).length} chars`);
    assert.ok(reports.length <= intervals, `${reports.length} refusal reports`);
    assert.equal(reports.reduce((a, r) => a + r.total, 0), N);
    closeMs.sort((a, b) => a - b);
    assert.ok(closeMs[closeMs.length - 1]! < 1000, `slowest close ${closeMs[closeMs.length - 1]} ms after the reply`);
    assert.equal(s.links.all.size, 0);
  });

  it('HTTP long-polling is refused: websocket only, so no request body is buffered', async () => {
    const s = await server();
    const status = (method: string, body?: Buffer) => new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, method, path: '/socket.io/?EIO=4&transport=polling', agent: false, headers: { connection: 'close' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(await status('GET'), 400);
    assert.equal(await status('POST', Buffer.alloc(MiB)), 400);
  });
});

// Keeps the type import used when the file is read alone.
export type { MessageOf };
