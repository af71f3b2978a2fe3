// A bounded fuzzer for one link port (an edge's device port or the
// coordinator's edge port): hostile socket.io clients, spread over many
// loopback source addresses, sending malformed and hostile traffic with a
// bounded number of connections at a time. Seeded, so a failure can be
// replayed. It never sends a hello that could join (the right token with the
// right role and a free id; under TLS, a certificate that proves the id it
// claims): the store must stay as it was.
import { io, type Socket } from 'socket.io-client';
import { EVENTS, Role, encodeMessage, encodeTensor, type EventName } from '@hsfl/protocol';
import { seededRandom as rng } from '@hsfl/runtime';

export interface FuzzTarget {
  name: string;
  port: number;
  /** The role the port serves (hellos with it and the right token are never sent with a free id). */
  role: Role;
  token: string;
  /** Ids held by legitimate nodes, for hellos that claim them (with a wrong token). */
  takenIds: string[];
  /**
   * A TLS port: the CA to pin, and the identities hostile connections
   * present (each connection one of them, at random): a client certificate
   * or none, and the id and role its hellos claim, such that every hello
   * is refused (no certificate, another CA, revoked, another id, another
   * role, another edge).
   */
  tls?: { ca: string; identities: FuzzIdentity[] };
}

export interface FuzzIdentity {
  label: string;
  cert?: string;
  key?: string;
  helloId: string;
  role: Role;
}

export interface FuzzOptions {
  /** Stop once this many messages were sent. */
  messages: number;
  /** Connections open at a time (workers). */
  concurrency: number;
  seed: number;
  /** Source addresses to spread connections over (127.x.y.z). */
  sources: string[];
  /** Idle connections opened at the start that never say hello. */
  idle: number;
  /** Connection attempts from one address in a burst, to hit the per-address limit. */
  hammer: number;
  hammerSource: string;
}

export interface FuzzStats {
  target: string;
  messages: number;
  connections: number;
  /** Messages sent, by kind. */
  byKind: Record<string, number>;
  /** How connections ended, by the client's disconnect reason or connect error. */
  endings: Record<string, number>;
  /** Error codes the server answered with. */
  codes: Record<string, number>;
  /** Idle connections the server closed (all of them, after the hello timeout). */
  idleClosed: number;
  ms: number;
}

// socket.io-client refuses to emit its reserved names (connect, disconnect, ...); those go below it, as engine garbage.
const UNKNOWN_EVENTS = ['hsfl:nope', 'message', 'x', 'hsfl:hello2', 'hsfl:error', 'hsfl:alive', ' ', 'a'.repeat(300)];
const ENGINE_GARBAGE = ['garbage', '9', '4{', '451-["x"', '4' + '['.repeat(100), '42["disconnect","transport close"]', '42["connect"]', '42["disconnecting"]', '40/admin,', '41', '43'];
const VALID_EVENTS: EventName[] = [EVENTS.activations, EVENTS.roundDone, EVENTS.weightsUp, EVENTS.heartbeat, EVENTS.capacityReport, EVENTS.nodeStatus];

type Pick = () => number;

/** One hostile payload for a connection that has not joined: [kind, event, args]. */
function junk(r: Pick, t: FuzzTarget): [string, string, unknown[]] {
  const header = { runId: 'run-x', planVersion: 1, round: Math.floor(r() * 10), sender: 'x' };
  const valid = (): Uint8Array => {
    switch (Math.floor(r() * 4)) {
      case 0: return encodeMessage(EVENTS.heartbeat, { nodeId: 'x', timeMs: 1 });
      case 1: return encodeMessage(EVENTS.roundDone, { header, samples: 8, computeMs: 1 });
      case 2: return encodeMessage(EVENTS.activations, { header, activations: encodeTensor(new Float32Array(4), [1, 4]), labels: encodeTensor(new Int32Array(1), [1]) });
      default: return encodeMessage(EVENTS.hello, { nodeId: 'x', role: t.role, token: `w${r()}`, backend: 'b', numSamples: 1, software: 's', host: 'h' });
    }
  };
  const event = () => VALID_EVENTS[Math.floor(r() * VALID_EVENTS.length)]!;
  switch (Math.floor(r() * 9)) {
    case 0: return ['string payload', event(), ['not bytes at all']];
    case 1: return ['json payload', event(), [{ nodeId: 'x', token: t.token, n: [1, 2, 3] }]];
    case 2: return ['random bytes', event(), [Buffer.from(Array.from({ length: 1 + Math.floor(r() * 48) }, () => Math.floor(r() * 256)))]];
    case 3: {
      const b = valid();
      return ['truncated protobuf', event(), [b.subarray(0, Math.max(1, Math.floor(r() * b.length)))]];
    }
    case 4: return ['unknown event', UNKNOWN_EVENTS[Math.floor(r() * UNKNOWN_EVENTS.length)]!, [valid()]];
    case 5: return ['probe before hello', EVENTS.probe, [encodeMessage(EVENTS.probe, { id: Math.floor(r() * 1000), payload: new Uint8Array(0), replyBytes: 8 * 1024 * 1024 })]];
    case 6: return ['message before hello', event(), [valid()]];
    case 7: return ['several arguments', event(), [valid(), valid(), 'x']];
    default: return ['no payload', event(), []];
  }
}

/** A hello that must be refused: wrong token, or the right token with another role, a reserved or invalid id. */
function badHello(r: Pick, t: FuzzTarget): [string, Uint8Array] {
  const other = t.role === Role.ROLE_EDGE ? Role.ROLE_DEVICE : Role.ROLE_EDGE;
  const ids = ['intruder', t.takenIds[0] ?? 'x', 'cloud', 'bad id!', 'é', '', 'y'.repeat(65), `z${'w'.repeat(40_000)}`];
  const id = ids[Math.floor(r() * ids.length)]!;
  const h = (nodeId: string, role: Role, token: string) => encodeMessage(EVENTS.hello, { nodeId, role, token, backend: 'b'.repeat(Math.floor(r() * 200)), numSamples: 1, software: 's', host: 'h' });
  switch (Math.floor(r() * 4)) {
    case 0: return ['wrong token', h(id, t.role, `wrong-${Math.floor(r() * 1e9)}`)];
    case 1: return ['claims a taken id', h(t.takenIds[Math.floor(r() * t.takenIds.length)] ?? 'x', t.role, t.token.slice(0, -1))];
    case 2: return ['another role', h('intruder', other, t.token)];
    default: return ['reserved or invalid id', h(['cloud', 'bad id!', '', 'y'.repeat(65)][Math.floor(r() * 4)]!, t.role, t.token)];
  }
}

function openSocket(port: number, localAddress: string, tls?: { ca: string; identity: FuzzIdentity }): Socket {
  const secure = tls && {
    ca: [tls.ca], cert: tls.identity.cert, key: tls.identity.key, rejectUnauthorized: true,
    // A hostile client does not care which server it reached; the chain to the CA is still verified.
    checkServerIdentity: () => undefined,
  };
  return io(`${tls ? 'https' : 'http'}://127.0.0.1:${port}`, {
    transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5000,
    ...({ localAddress, ...secure } as object),
  });
}

/** A hello a TLS server must refuse: what the connection's identity claims. */
function identityHello(r: Pick, id: FuzzIdentity): [string, Uint8Array] {
  const nodeId = r() < 0.1 ? `z${'w'.repeat(40_000)}` : id.helloId;
  return [`tls: ${id.label}`, encodeMessage(EVENTS.hello, { nodeId, role: id.role, token: '', backend: 'b'.repeat(Math.floor(r() * 200)), numSamples: 1, software: 's', host: 'h' })];
}

/** Resolves once the socket is connected (true) or failed to connect (false, with the reason counted). */
function connected(s: Socket, endings: Record<string, number>): Promise<boolean> {
  return new Promise((resolve) => {
    s.once('connect', () => resolve(true));
    s.once('connect_error', (err) => {
      endings[`connect_error: ${err.message}`] = (endings[`connect_error: ${err.message}`] ?? 0) + 1;
      resolve(false);
    });
  });
}

function closed(s: Socket, endings: Record<string, number>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (s.disconnected && !s.active) return resolve();
    const timer = setTimeout(() => {
      endings['still open (closed by the client)'] = (endings['still open (closed by the client)'] ?? 0) + 1;
      s.disconnect();
      resolve();
    }, ms);
    s.once('disconnect', (reason) => {
      clearTimeout(timer);
      endings[reason] = (endings[reason] ?? 0) + 1;
      resolve();
    });
  });
}

const add = (m: Record<string, number>, k: string, n = 1) => void (m[k] = (m[k] ?? 0) + n);
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Fuzzes one port; resolves with what was sent and how the server answered. */
export async function fuzzPort(t: FuzzTarget, o: FuzzOptions): Promise<FuzzStats> {
  const stats: FuzzStats = { target: t.name, messages: 0, connections: 0, byKind: {}, endings: {}, codes: {}, idleClosed: 0, ms: 0 };
  const t0 = Date.now();
  const count = (kind: string, n = 1) => {
    stats.messages += n;
    add(stats.byKind, kind, n);
  };
  const watchCodes = (s: Socket) => s.on(EVENTS.error, (p: unknown) => {
    // The code is field 1 of ErrorReply; reading it raw keeps a broken reply from throwing here.
    const b = p as Uint8Array;
    const code = b && b[0] === 0x0a ? Buffer.from(b.subarray(2, 2 + b[1]!)).toString('utf8') : '?';
    add(stats.codes, code);
  });
  // Every socket opened, so that a failure anywhere still leaves none open.
  const all = new Set<Socket>();
  const pickTls = (r: Pick) => t.tls && { ca: t.tls.ca, identity: t.tls.identities[Math.floor(r() * t.tls.identities.length)]! };
  const setupRng = rng(o.seed);
  const open = (port: number, localAddress: string, tls = pickTls(setupRng)) => {
    const s = openSocket(port, localAddress, tls);
    all.add(s);
    s.on('disconnect', () => all.delete(s));
    return s;
  };
  let failed: unknown;
  let nextSource = 0;
  const source = () => o.sources[nextSource++ % o.sources.length]!;

  // Connections that never say hello: the server must close them after its hello timeout.
  const idle = Array.from({ length: o.idle }, () => open(t.port, source()));
  stats.connections += idle.length;
  const idleDone = Promise.all(idle.map(async (s) => {
    if (!(await connected(s, stats.endings))) return;
    await closed(s, stats.endings, 20000);
    if (!s.connected) stats.idleClosed++;
  }));

  // One address hammering: past its burst it is told rate_limited, then cut at the upgrade.
  const hammer = Array.from({ length: o.hammer }, () => open(t.port, o.hammerSource));
  stats.connections += hammer.length;
  const hammerDone = Promise.all(hammer.map(async (s) => {
    watchCodes(s);
    if (await connected(s, stats.endings)) await closed(s, stats.endings, 10000);
    s.disconnect();
  }));

  const worker = async (w: number) => {
    const wr = rng(o.seed * 1000 + w);
    while (stats.messages < o.messages && failed === undefined) {
      const tls = pickTls(wr);
      const s = open(t.port, source(), tls);
      stats.connections++;
      watchCodes(s);
      if (!(await connected(s, stats.endings))) {
        s.disconnect();
        continue;
      }
      const scenario = wr();
      if (scenario < 0.7) {
        // A burst of junk before hello, sent in slices so that a cut is noticed.
        const n = 100 + Math.floor(wr() * 500);
        for (let i = 0; i < n && s.connected; i++) {
          const [kind, event, args] = junk(wr, t);
          s.emit(event, ...args);
          count(kind);
          if (i % 50 === 49) await tick();
        }
      } else if (scenario < 0.88) {
        const [kind, bytes] = tls && wr() < 0.8 ? identityHello(wr, tls.identity) : badHello(wr, t);
        s.emit(EVENTS.hello, bytes);
        count(kind);
        // A second hello right behind it: the connection must already be on its way out.
        s.emit(EVENTS.hello, bytes);
        count('second hello');
      } else if (scenario < 0.93) {
        // Garbage below socket.io: engine.io messages that are no socket.io packet.
        const engine = s.io.engine;
        for (let i = 0; i < 3; i++) {
          engine.write(ENGINE_GARBAGE[Math.floor(wr() * ENGINE_GARBAGE.length)]!);
          count('engine garbage');
        }
      } else if (scenario < 0.97) {
        s.emit(EVENTS.hello, encodeMessage(EVENTS.hello, { nodeId: 'h'.repeat(100_000), role: t.role, token: t.token, backend: 'b', numSamples: 1, software: 's', host: 'h' }));
        count('hello with a 100 kB id');
      } else {
        s.emit(EVENTS.activations, Buffer.alloc((1 + Math.floor(wr() * 10)) * 1024 * 1024));
        count('oversized message before hello');
      }
      await closed(s, stats.endings, scenario < 0.7 ? 50 : 3000);
      s.disconnect();
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w).catch((err: unknown) => {
      failed ??= err;
    })));
    await Promise.all([idleDone, hammerDone]);
  } finally {
    for (const s of all) s.disconnect();
  }
  if (failed !== undefined) throw failed;
  stats.ms = Date.now() - t0;
  return stats;
}
