// The server half of a link: what a tier does with the children that
// connect to it (an edge with its devices, the cloud with its edges). It
// owns the socket.io server, the hello (token, role, id rule), the rule for
// a second connection under a taken id, the joined guard every message
// handler goes through, and leaving. The role supplies what is particular to
// it through the callbacks.
//
// It also owns what strangers can make the server do (docs/protocol.md,
// "Limits"): connection attempts per address (AddressLimiter), what a
// connection may send and how long it may stay before its hello
// (PreHelloGuard), probes (answered for joined children only, within a
// budget), replies to children that do not read, and how failures are
// logged (FailureLog: coalesced, with a count).
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { addressKey, boundedHello, checkHello, loggableId, secondHelloVerdict } from './link-rules.js';
import { AddressLimiter, type ConnectVerdict } from './address-limiter.js';
import { PreHelloGuard, destroyConn, queuedBytes, type GuardCut } from './link-guard.js';
import { FailureLog, type RefusalReport } from './failure-log.js';
import {
  EVENTS, Peer, ProtocolError, answerProbes, encodeMessage, errorReplyFor, MAX_MESSAGE_BYTES, DEFAULT_PROBE_BUDGET,
  type ByteTotals, type EventName, type LogLike, type Mailbox, type MessageOf, type ProbeBudget, type Role,
} from '@hsfl/protocol';

/** socket.io event a parent sends to check that the holder of an id is still there; the child acks it. */
export const ALIVE_EVENT = 'hsfl:alive';

export type Hello = MessageOf<typeof EVENTS.hello>;

export interface ChildLink {
  readonly id: string;
  readonly peer: Peer;
  readonly socket: ServerSocket;
  /** The hello it joined with, free-text fields cut to bounded lengths. */
  readonly hello: Hello;
  readonly address: string;
  /** Serial number of the certificate the child proved its id with (TLS identities). */
  readonly serial?: string;
}

/** What strangers and children may make the server do. Defaults: DEFAULT_LINK_LIMITS. */
export interface LinkLimits {
  /** Bytes a connection may send before its hello is accepted; past that it is cut at the transport. */
  preHelloBytes: number;
  /** Connection attempts a source address may make at once, and per second after that. */
  connectBurst: number;
  connectPerSecond: number;
  /** Most source addresses the attempt limiter tracks. */
  maxAddresses: number;
  /** Error replies are dropped while more than this waits to go to the child (it is not reading). */
  maxQueuedReplyBytes: number;
  /** Failures are logged in full once per kind and source per interval, and counted otherwise. */
  logIntervalMs: number;
  /** Most kinds x sources counted at once in that log. */
  maxLogKeys: number;
  /** Link probes per child. */
  probe: ProbeBudget;
}

const KiB = 1024;
const MiB = 1024 * KiB;

export const DEFAULT_LINK_LIMITS: LinkLimits = {
  // A hello is a few hundred bytes; 64 KiB leaves room for any honest one and a few stray messages.
  preHelloBytes: 64 * KiB,
  // 20 per 10 s: a node reconnecting with backoff needs a handful; a fleet behind one NAT address rejoining at once is slowed, not locked out.
  connectBurst: 20,
  connectPerSecond: 2,
  maxAddresses: 4096,
  maxQueuedReplyBytes: 1 * MiB,
  logIntervalMs: 10_000,
  maxLogKeys: 1024,
  probe: DEFAULT_PROBE_BUDGET,
};

/** The limits for `--connect-limit N`: N attempts per address at once, refilled over 10 s. */
export function connectLimit(perTenSeconds: number): Partial<LinkLimits> {
  return { connectBurst: perTenSeconds, connectPerSecond: perTenSeconds / 10 };
}

/** Default time a connection has to say hello. */
export const DEFAULT_HELLO_TIMEOUT_MS = 5000;

export interface ChildLinksOptions {
  /** For logs: 'device' or 'edge'. */
  childName: string;
  role: Role;
  /** The shared join token (insecure mode); unused when `authenticate` is given. */
  token?: string;
  /**
   * Under TLS: proves the hello's id from the connection's certificate and
   * returns it (with the certificate's serial), or throws a ProtocolError
   * ('unauthorized', 'wrong_id', 'wrong_role', 'wrong_edge', 'revoked',
   * 'unavailable'). Replaces the join token.
   */
  authenticate?: (hello: Hello, socket: ServerSocket) => { id: string; serial?: string };
  log: LogLike;
  mailbox: Mailbox;
  /** Largest accepted message, read per message. */
  maxBytes: () => number;
  /** Transport cap (socket.io maxHttpBufferSize); applies only after hello (before it, limits.preHelloBytes). */
  transportBytes?: number;
  totals?: ByteTotals;
  /** Further admission rules of the role (removed ids, capacity); throw a ProtocolError to refuse. */
  admit?: (hello: Hello, replacing: boolean) => void;
  /** A child joined (after hello); runs in the mailbox. */
  onJoin: (link: ChildLink) => void;
  /** A joined child left: disconnected, replaced by a new connection, or sent away. Runs in the mailbox. */
  onLeave: (link: ChildLink, reason: string) => void;
  /** A connection that has not said hello by then is closed (default 5 s). */
  helloTimeoutMs?: number;
  /** How long the holder of an id has to answer the liveness check (default 2 s). */
  aliveTimeoutMs?: number;
  /** Overrides of DEFAULT_LINK_LIMITS. */
  limits?: Partial<LinkLimits>;
  /** The refusals of the last interval (failed hellos, connections cut or rate-limited), at most once per limits.logIntervalMs. */
  onRefusals?: (r: RefusalReport) => void;
}

type Handler<E extends EventName> = (link: ChildLink, m: MessageOf<E>) => void | Promise<void>;
type EngineConn = ServerSocket['conn'];

export class ChildLinks {
  private server?: Server;
  private http?: HttpServer;
  private readonly links = new Map<string, ChildLink>();
  private readonly handlers: { event: EventName; handler: Handler<EventName> }[] = [];
  private closing = false;
  readonly limits: LinkLimits;
  private readonly limiter: AddressLimiter;
  private readonly failures: FailureLog;
  /** The limiter's verdict on each upgrade request, for the connection it becomes. */
  private readonly verdicts = new WeakMap<IncomingMessage, ConnectVerdict>();
  private readonly guards = new WeakMap<EngineConn, PreHelloGuard>();
  private readonly sockets = new WeakMap<EngineConn, ServerSocket>();
  private flushTimer?: NodeJS.Timeout;

  constructor(private readonly o: ChildLinksOptions) {
    this.limits = { ...DEFAULT_LINK_LIMITS, ...o.limits };
    this.limiter = new AddressLimiter({ burst: this.limits.connectBurst, perSecond: this.limits.connectPerSecond, maxAddresses: this.limits.maxAddresses });
    this.failures = new FailureLog({ childName: o.childName, log: o.log, intervalMs: this.limits.logIntervalMs, maxKeys: this.limits.maxLogKeys, onRefusals: o.onRefusals });
  }

  /** Joined children by id. */
  get all(): ReadonlyMap<string, ChildLink> {
    return this.links;
  }

  get(id: string): ChildLink | undefined {
    return this.links.get(id);
  }

  /** Source addresses the connection limiter tracks now (bounded by limits.maxAddresses). */
  get trackedAddresses(): number {
    return this.limiter.size;
  }

  /** Handles `event` from joined children only ('not_joined' otherwise, and for a replaced connection). */
  on<E extends EventName>(event: E, handler: Handler<E>): this {
    this.handlers.push({ event, handler: handler as unknown as Handler<EventName> });
    return this;
  }

  private get helloTimeoutMs(): number {
    return this.o.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  }

  attach(http: HttpServer): Server {
    this.http = http;
    this.server = new Server(http, {
      maxHttpBufferSize: this.o.transportBytes ?? MAX_MESSAGE_BYTES,
      serveClient: false,
      pingInterval: 5000,
      pingTimeout: 10000,
      // Websocket only: HTTP long-polling would have engine.io buffer request
      // bodies (up to maxHttpBufferSize) before any of the checks below.
      transports: ['websocket'],
      // A compressed message could inflate past every byte budget counted on the wire.
      perMessageDeflate: false,
      // Engine connections that never open the namespace go when a silent socket would.
      connectTimeout: this.helloTimeoutMs,
      allowRequest: (req, answer) => {
        const source = addressKey(req.socket.remoteAddress);
        const verdict = this.closing ? 'reject' : this.limiter.attempt(source, Date.now());
        if (verdict !== 'accept') this.failures.warn('rate_limited', source, {}, `too many ${this.o.childName} connection attempts from ${source}; refusing them`);
        if (verdict === 'reject') return answer('rate_limited', false);
        this.verdicts.set(req, verdict);
        answer(null, true);
      },
    });
    this.server.engine.on('connection', (conn: EngineConn) => this.guard(conn));
    this.server.on('connection', (socket) => this.onConnection(socket));
    this.flushTimer = setInterval(() => {
      this.failures.flush();
      this.limiter.prune(Date.now());
    }, this.limits.logIntervalMs);
    this.flushTimer.unref();
    return this.server;
  }

  /** Sends a Goodbye and closes the child's connection; it leaves at once. */
  sendAway(link: ChildLink, reason: string, permanent: boolean): void {
    if (this.links.get(link.id) === link) {
      this.links.delete(link.id);
      this.o.onLeave(link, reason);
    }
    link.peer.send(EVENTS.goodbye, { reason, permanent });
    // Let the Goodbye reach the child before the close does.
    setTimeout(() => link.socket.disconnect(true), 100).unref();
  }

  /** Sends away, for good, every joined child whose certificate serial is listed (revocation). */
  sendAwayRevoked(serials: ReadonlySet<string>, reason: string): string[] {
    const gone: string[] = [];
    for (const link of [...this.links.values()]) {
      if (link.serial !== undefined && serials.has(link.serial)) {
        gone.push(link.id);
        this.sendAway(link, reason, true);
      }
    }
    return gone;
  }

  /** Tells every child why and closes the server. */
  async close(reason: string, permanent: boolean): Promise<void> {
    this.closing = true;
    clearInterval(this.flushTimer);
    this.failures.flush(true);
    const server = this.server;
    if (!server) return;
    for (const s of server.sockets.sockets.values()) {
      try {
        s.emit(EVENTS.goodbye, encodeGoodbye(reason, permanent));
      } catch {
        /* a socket closing under us */
      }
    }
    await new Promise((r) => setTimeout(r, 100).unref());
    server.disconnectSockets(true);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Children reconnect at once; a connection that arrived meanwhile would
      // hold the HTTP server open until its keep-alive timeout.
      this.http?.closeAllConnections();
    });
  }

  /** Every engine connection is guarded from its first byte until a hello is accepted. */
  private guard(conn: EngineConn): void {
    const source = addressKey(conn.request.socket.remoteAddress);
    const refused = this.verdicts.get(conn.request) === 'refuse';
    const guard = new PreHelloGuard(conn.request.socket, {
      // A refused connection only needs to open the namespace and read why.
      budgetBytes: refused ? 4 * KiB : this.limits.preHelloBytes,
      timeoutMs: refused ? 1000 : this.helloTimeoutMs,
      onCut: (why) => this.cut(conn, source, why),
    });
    this.guards.set(conn, guard);
  }

  private cut(conn: EngineConn, source: string, why: GuardCut): void {
    if (why === 'pre_hello_budget') {
      this.failures.warn(why, source, { budgetBytes: this.limits.preHelloBytes }, `${this.o.childName} connection cut: it sent more than ${this.limits.preHelloBytes} bytes before joining`);
      return;
    }
    this.failures.warn(why, source, {}, `${this.o.childName} connection closed: no hello in time`);
    this.closeSoon(conn, this.sockets.get(conn));
  }

  /**
   * Closes a connection after what was just sent on it: politely (the peer
   * learns it was the server) and, if it does not read, by force shortly after.
   */
  private closeSoon(conn: EngineConn, socket: ServerSocket | undefined): void {
    if (socket) socket.disconnect(true);
    else conn.close();
    setTimeout(() => destroyConn(conn), 1000).unref();
  }

  /** Sends an ErrorReply for a refused hello or connection, unless the peer is not reading. */
  private replyError(socket: ServerSocket, err: unknown): void {
    if (queuedBytes(socket.conn) > this.limits.maxQueuedReplyBytes) return;
    socket.emit(EVENTS.error, encodeMessage(EVENTS.error, errorReplyFor(err, EVENTS.hello, null)));
  }

  /** A Goodbye as raw bytes (the socket may not have joined). */
  private sendGoodbye(socket: ServerSocket, reason: string, permanent: boolean): void {
    if (queuedBytes(socket.conn) > this.limits.maxQueuedReplyBytes) return;
    socket.emit(EVENTS.goodbye, encodeGoodbye(reason, permanent));
  }

  private onConnection(socket: ServerSocket): void {
    const conn = socket.conn;
    if (this.closing) {
      socket.disconnect(true);
      return;
    }
    this.sockets.set(conn, socket);
    const o = this.o;
    const source = addressKey(socket.handshake.address);
    if (this.verdicts.get(conn.request) === 'refuse') {
      const wait = Math.max(1, Math.ceil(this.limiter.retryAfterMs(source, Date.now()) / 1000));
      this.replyError(socket, new ProtocolError('rate_limited', `too many connection attempts from ${source}; retry in ${wait} s`));
      this.closeSoon(conn, socket);
      return;
    }
    let link: ChildLink | undefined;
    const address = socket.handshake.address;
    const who = () => link?.id ?? source;
    const peer = new Peer(socket, {
      name: `${o.childName}@${address}`, log: o.log, mailbox: o.mailbox, maxBytes: o.maxBytes, totals: o.totals,
      logsRejection: (code) => this.failures.count(`rejected:${code}`, who()),
      mayReply: () => {
        if (queuedBytes(conn) <= this.limits.maxQueuedReplyBytes) return true;
        this.failures.warn('reply_dropped', who(), {}, `${o.childName} is not reading: error replies to it are dropped`);
        return false;
      },
    });
    // A child's error reports are worth reading, once per code and interval; a stranger has nothing to report.
    peer.onErrorReply((e) => {
      if (!link) this.failures.warn('error_reply:stranger', source, {}, `an error reply from a ${o.childName} connection that has not joined ignored`);
      else if (this.failures.count(`error_reply:${e.code.slice(0, 32)}`, link.id)) o.log.warn({ child: link.id, code: e.code.slice(0, 64), event: e.event.slice(0, 64), err: e.message.slice(0, 200) }, `${o.childName} reported an error`);
    });
    let checking = false;
    let serial: string | undefined;
    const join = (m: Hello, id: string) => {
      if (socket.disconnected) return;
      this.guards.get(conn)?.release();
      const hello = boundedHello(m);
      link = serial === undefined ? { id, peer, socket, hello, address } : { id, peer, socket, hello, address, serial };
      this.links.set(id, link);
      o.onJoin(link);
    };
    // One hello per connection: a refused one gets its reply and the connection is closed at once.
    const refuse = (m: Hello, err: unknown) => {
      const code = err instanceof ProtocolError ? err.code : 'internal';
      const node = loggableId(m.nodeId);
      if (this.failures.count(`hello:${code}`, source)) {
        if (code === 'internal') o.log.error({ address, node, err: String(err), stack: (err as Error)?.stack }, `admitting a ${o.childName} failed`);
        else if (code === 'unauthorized' && !o.authenticate) o.log.warn({ address, node, code }, `${o.childName} presented a wrong join token`);
        else o.log.warn({ address, node, code, err: err instanceof ProtocolError ? err.detail.slice(0, 200) : '' }, `${o.childName} hello refused`);
      }
      this.replyError(socket, err);
      // A revoked node is told it is gone for good, so that it stops retrying.
      if (code === 'revoked') this.sendGoodbye(socket, err instanceof ProtocolError ? err.detail : 'revoked', true);
      this.closeSoon(conn, socket);
    };
    peer.on(EVENTS.hello, (m) => {
      if (link || checking) throw new ProtocolError('malformed', 'already joined on this connection');
      let id: string;
      let holder: ChildLink | undefined;
      try {
        id = checkHello(m, { token: o.authenticate ? undefined : o.token ?? '', role: o.role, childName: o.childName });
        if (o.authenticate) ({ id, serial } = o.authenticate(m, socket));
        holder = this.links.get(id);
        o.admit?.(m, holder !== undefined);
      } catch (err) {
        refuse(m, err);
        return;
      }
      if (!holder) {
        join(m, id);
        return;
      }
      // The liveness check runs outside the mailbox so that rounds go on meanwhile.
      checking = true;
      void this.answers(holder).then((alive) => o.mailbox.run(() => {
        checking = false;
        const verdict = secondHelloVerdict(holder, this.links.get(id), alive);
        if (verdict === 'refuse') {
          refuse(m, new ProtocolError('duplicate_id', `${id} is connected and answering; pick another id`));
          return;
        }
        if (verdict === 'replace') {
          this.links.delete(id);
          o.log.warn({ child: id }, `${o.childName} reconnected; replacing its silent old connection`);
          o.onLeave(holder, 'replaced by a new connection');
          holder.socket.disconnect(true);
        }
        join(m, id);
      }));
    });
    for (const { event, handler } of this.handlers) {
      peer.on(event, (m) => {
        if (!link || this.links.get(link.id) !== link) throw new ProtocolError('not_joined', 'send hello first');
        return handler(link, m);
      });
    }
    answerProbes(socket, o.log, {
      joined: () => link !== undefined && this.links.get(link.id) === link,
      queuedBytes: () => queuedBytes(conn),
      dropped: (why) => this.failures.warn(`probe:${why}`, who(), {}, `link probe from a ${o.childName} dropped (${why})`),
    }, this.limits.probe);
    socket.on('disconnect', (reason) => {
      this.guards.get(conn)?.release();
      void o.mailbox.run(() => {
        if (link && this.links.get(link.id) === link) {
          this.links.delete(link.id);
          o.onLeave(link, reason);
        }
      });
    });
  }

  /** Whether the holder of an id acks a liveness check in time. */
  private async answers(holder: ChildLink): Promise<boolean> {
    if (holder.socket.disconnected) return false;
    try {
      await holder.socket.timeout(this.o.aliveTimeoutMs ?? 2000).emitWithAck(ALIVE_EVENT);
      return true;
    } catch {
      return false;
    }
  }
}

/** A Goodbye as raw bytes: it also reaches sockets that never said hello. */
function encodeGoodbye(reason: string, permanent: boolean): Uint8Array {
  return encodeMessage(EVENTS.goodbye, { reason, permanent });
}
