// The server half of a link: what a tier does with the children that
// connect to it (an edge with its devices, the cloud with its edges). It
// owns the socket.io server, the hello (token, role, id rule), the rule for
// a second connection under a taken id, the joined guard every message
// handler goes through, and leaving. The role supplies what is particular to
// it through the callbacks.
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { checkHello, secondHelloVerdict, HELLO_REFUSALS } from './link-rules.js';
import {
  EVENTS, Peer, ProtocolError, answerProbes, encodeMessage, MAX_MESSAGE_BYTES,
  type ByteTotals, type EventName, type LogLike, type Mailbox, type MessageOf, type Role,
} from '@hsfl/protocol';

/** socket.io event a parent sends to check that the holder of an id is still there; the child acks it. */
export const ALIVE_EVENT = 'hsfl:alive';

export type Hello = MessageOf<typeof EVENTS.hello>;

export interface ChildLink {
  readonly id: string;
  readonly peer: Peer;
  readonly socket: ServerSocket;
  readonly hello: Hello;
  readonly address: string;
  /** Serial number of the certificate the child proved its id with (TLS identities). */
  readonly serial?: string;
}

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
  /** Transport cap (socket.io maxHttpBufferSize). */
  transportBytes?: number;
  totals?: ByteTotals;
  /** Further admission rules of the role (removed ids, capacity); throw a ProtocolError to refuse. */
  admit?: (hello: Hello, replacing: boolean) => void;
  /** A child joined (after hello); runs in the mailbox. */
  onJoin: (link: ChildLink) => void;
  /** A joined child left: disconnected, replaced by a new connection, or sent away. Runs in the mailbox. */
  onLeave: (link: ChildLink, reason: string) => void;
  /** A connection that has not said hello by then is closed (default 10 s). */
  helloTimeoutMs?: number;
  /** How long the holder of an id has to answer the liveness check (default 2 s). */
  aliveTimeoutMs?: number;
}

type Handler<E extends EventName> = (link: ChildLink, m: MessageOf<E>) => void | Promise<void>;

export class ChildLinks {
  private server?: Server;
  private http?: HttpServer;
  private readonly links = new Map<string, ChildLink>();
  private readonly handlers: { event: EventName; handler: Handler<EventName> }[] = [];
  private closing = false;

  constructor(private readonly o: ChildLinksOptions) {}

  /** Joined children by id. */
  get all(): ReadonlyMap<string, ChildLink> {
    return this.links;
  }

  get(id: string): ChildLink | undefined {
    return this.links.get(id);
  }

  /** Handles `event` from joined children only ('not_joined' otherwise, and for a replaced connection). */
  on<E extends EventName>(event: E, handler: Handler<E>): this {
    this.handlers.push({ event, handler: handler as unknown as Handler<EventName> });
    return this;
  }

  attach(http: HttpServer): Server {
    this.http = http;
    this.server = new Server(http, {
      maxHttpBufferSize: this.o.transportBytes ?? MAX_MESSAGE_BYTES,
      serveClient: false,
      pingInterval: 5000,
      pingTimeout: 10000,
    });
    this.server.on('connection', (socket) => this.onConnection(socket));
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

  private onConnection(socket: ServerSocket): void {
    if (this.closing) {
      socket.disconnect(true);
      return;
    }
    const o = this.o;
    let link: ChildLink | undefined;
    const address = socket.handshake.address;
    const peer = new Peer(socket, { name: `${o.childName}@${address}`, log: o.log, mailbox: o.mailbox, maxBytes: o.maxBytes, totals: o.totals });
    const helloTimer = setTimeout(() => {
      if (!link) {
        o.log.warn({ address }, `${o.childName} connection closed: no hello in time`);
        socket.disconnect(true);
      }
    }, o.helloTimeoutMs ?? 10000);
    helloTimer.unref();
    peer.onErrorReply((e) => o.log.warn({ child: link?.id, code: e.code, event: e.event, err: e.message }, `${o.childName} reported an error`));
    let checking = false;
    let serial: string | undefined;
    const join = (m: Hello, id: string) => {
      if (socket.disconnected) return;
      clearTimeout(helloTimer);
      link = serial === undefined ? { id, peer, socket, hello: m, address } : { id, peer, socket, hello: m, address, serial };
      this.links.set(id, link);
      o.onJoin(link);
    };
    const refuseTaken = (id: string) => {
      o.log.warn({ child: id, address }, `a second ${o.childName} tried to join under a taken id; refused`);
      setTimeout(() => socket.disconnect(true), 200).unref();
      return new ProtocolError('duplicate_id', `${id} is connected and answering; pick another id`);
    };
    peer.on(EVENTS.hello, (m) => {
      if (link || checking) throw new ProtocolError('malformed', 'already joined on this connection');
      let id: string;
      try {
        id = checkHello(m, { token: o.authenticate ? undefined : o.token ?? '', role: o.role, childName: o.childName });
        if (o.authenticate) ({ id, serial } = o.authenticate(m, socket));
      } catch (err) {
        if (err instanceof ProtocolError && HELLO_REFUSALS.has(err.code)) {
          o.log.warn({ address, node: String(m.nodeId).slice(0, 64), code: err.code, err: err.detail }, `${o.childName} refused: ${err.detail}`);
          // A revoked node is told it is gone for good, so that it stops retrying.
          if (err.code === 'revoked') peer.send(EVENTS.goodbye, { reason: err.detail, permanent: true });
          setTimeout(() => socket.disconnect(true), 200).unref();
        }
        throw err;
      }
      const holder = this.links.get(id);
      o.admit?.(m, holder !== undefined);
      if (!holder) {
        join(m, id);
        return;
      }
      // The liveness check runs outside the mailbox so that rounds go on meanwhile.
      checking = true;
      void this.answers(holder).then((alive) => o.mailbox.run(() => {
        checking = false;
        try {
          const verdict = secondHelloVerdict(holder, this.links.get(id), alive);
          if (verdict === 'refuse') throw refuseTaken(id);
          if (verdict === 'replace') {
            this.links.delete(id);
            o.log.warn({ child: id }, `${o.childName} reconnected; replacing its silent old connection`);
            o.onLeave(holder, 'replaced by a new connection');
            holder.socket.disconnect(true);
          }
          join(m, id);
        } catch (err) {
          peer.reject(err, EVENTS.hello, null);
        }
      }));
    });
    for (const { event, handler } of this.handlers) {
      peer.on(event, (m) => {
        if (!link || this.links.get(link.id) !== link) throw new ProtocolError('not_joined', 'send hello first');
        return handler(link, m);
      });
    }
    answerProbes(socket, o.log);
    socket.on('disconnect', (reason) => {
      clearTimeout(helloTimer);
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
