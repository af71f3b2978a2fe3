// The client half of a link: what a node does towards its parent (a device
// towards its edge, an edge towards the cloud): connect, say hello on every
// (re)connect, answer liveness checks, and keep reconnecting with backoff,
// whatever closed the connection, until the parent says the federation is
// gone for good for this node.
import { EventEmitter } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import {
  EVENTS, Peer, MAX_MESSAGE_BYTES, type ByteTotals, type EventName, type LogLike, type Mailbox, type MessageInitOf,
} from '@hsfl/protocol';
import { ALIVE_EVENT } from './child-link.js';
import { logsAttempt, mustReconnectItself, reconnectDelay } from './link-rules.js';
import { explainConnectError, type ClientTls } from './security/tls-config.js';

export interface ParentLinkOptions {
  url: string;
  /** For logs: 'edge' or 'cloud'. */
  parentName: string;
  log: LogLike;
  mailbox: Mailbox;
  /** The hello sent on every connect. */
  hello: () => MessageInitOf<typeof EVENTS.hello>;
  maxBytes: () => number;
  totals?: ByteTotals;
  /** Backoff between reconnection attempts (ms). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** TLS with the pinned project CA and this node's certificate (from its bundle); absent only with --insecure. */
  tls?: ClientTls;
}

/**
 * Events: 'connected', 'disconnected' (reason), 'gone' (reason) once the
 * parent said goodbye for good.
 */
export class ParentLink extends EventEmitter {
  readonly socket: Socket;
  readonly peer: Peer;
  private closed = false;
  private attempts = 0;
  private retryTimer?: NodeJS.Timeout;

  constructor(private readonly o: ParentLinkOptions) {
    super();
    const min = o.minDelayMs ?? 250;
    const max = o.maxDelayMs ?? 5000;
    this.socket = io(o.url, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: min,
      reconnectionDelayMax: max,
      randomizationFactor: 0.3,
      autoConnect: false,
      // The client side of socket.io's buffer limit (docs/protocol.md, Limits).
      maxPayload: MAX_MESSAGE_BYTES,
      ...o.tls,
    } as Parameters<typeof io>[1]);
    this.peer = new Peer(this.socket, { name: o.parentName, log: o.log, mailbox: o.mailbox, maxBytes: o.maxBytes, totals: o.totals });
    this.socket.on(ALIVE_EVENT, (ack?: () => void) => {
      if (typeof ack === 'function') ack();
    });
    this.socket.on('connect', () => {
      if (this.attempts > 0) o.log.info({ parent: o.url, attempts: this.attempts }, `reconnected to the ${o.parentName}`);
      else o.log.info({ parent: o.url }, `connected to the ${o.parentName}, joining`);
      this.attempts = 0;
      this.peer.send(EVENTS.hello, o.hello());
      this.emit('connected');
    });
    this.socket.on('disconnect', (reason) => {
      this.emit('disconnected', reason);
      if (this.closed) return;
      o.log.warn({ reason }, `disconnected from the ${o.parentName}; reconnecting`);
      // socket.io-client does not reconnect after the server closed the
      // connection; a restarting parent does exactly that, so retry here.
      if (mustReconnectItself(reason)) this.retryLater();
    });
    this.socket.io.on('reconnect_attempt', (n) => this.noteAttempt(n));
    this.socket.on('connect_error', (err) => {
      // Said plainly, and as often as attempts are logged: a wrong bundle or a revoked node must not look like a flaky link.
      const why = explainConnectError(err, o.tls !== undefined);
      if (logsAttempt(this.attempts + 1)) o.log.warn({ parent: o.url, err: why }, `cannot connect to the ${o.parentName}`);
      else o.log.debug({ err: why }, `${o.parentName} not reachable`);
      // connect_error before the first connection leaves reconnection to the manager only when it was armed.
      if (!this.socket.active && !this.closed) this.retryLater();
    });
    // Every refusal is logged here, once: a refused hello (this node may not join) as an error.
    this.peer.onErrorReply((e) => {
      if (e.event === EVENTS.hello) o.log.error({ parent: o.url, code: e.code, err: e.message }, `the ${o.parentName} refused this node`);
      else o.log.warn({ code: e.code, event: e.event, err: e.message }, `${o.parentName} refused a message`);
    });
    this.peer.on(EVENTS.goodbye, (m) => {
      if (m.permanent) {
        o.log.warn({ reason: m.reason }, `the ${o.parentName} said goodbye for good; not reconnecting`);
        this.close();
        this.emit('gone', m.reason);
      } else {
        o.log.warn({ reason: m.reason }, `the ${o.parentName} is going away for now; will reconnect`);
      }
    });
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  start(): void {
    this.socket.connect();
  }

  /** Sends if connected; a message for a parent that is not there is dropped (the round it belongs to is lost anyway). */
  send<E extends EventName>(event: E, msg: MessageInitOf<E>): boolean {
    if (!this.socket.connected) return false;
    this.peer.send(event, msg);
    return true;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.io.reconnection(false);
    this.socket.disconnect();
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    const n = ++this.attempts;
    const delay = reconnectDelay(n, this.o.minDelayMs ?? 250, this.o.maxDelayMs ?? 5000);
    this.logAttempt(n, delay);
    this.retryTimer = setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private noteAttempt(n: number): void {
    this.attempts = n;
    this.logAttempt(n, undefined);
  }

  private logAttempt(n: number, delayMs: number | undefined): void {
    if (logsAttempt(n)) this.o.log.warn({ parent: this.o.url, attempt: n, delayMs }, `trying to reach the ${this.o.parentName} again`);
  }
}
