// A thin typed layer over a socket.io socket (client or server side; only
// `on` and `emit` are used, so this package does not depend on socket.io).
// Every received message is decoded and structurally validated, then handed
// to its handler inside the role's Mailbox, one at a time; a ProtocolError
// thrown by decoding or by the handler is logged and answered with an
// ErrorReply on EVENTS.error, and nothing else happens.
import type { ErrorReply, HeaderInit } from './generated/hsfl.js';
import { ProtocolError } from './errors.js';
import { EVENTS, type EventName, type MessageInitOf, type MessageOf } from './events.js';
import { decodeMessage, encodeMessage, payloadBytes } from './messages.js';
import { MAX_MESSAGE_BYTES } from './limits.js';

/** The subset of a pino logger the protocol layer uses. */
export interface LogLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Running byte counters a Peer adds to (share one object between peers to total a tier). */
export interface ByteTotals {
  bytesIn: number;
  bytesOut: number;
}

/** What Peer needs of a socket.io Socket (server or client). */
export interface SocketLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  emit(event: string, ...args: any[]): unknown;
}

/**
 * A serial task queue: tasks run one after another, each awaited before the
 * next starts, so a role's state is never touched by two handlers at once.
 * A task that throws is reported to onError and does not stop the queue.
 */
export class Mailbox {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  /** Queues a task; resolves with its result, or undefined if it threw (never rejects). */
  run<T>(task: () => T | Promise<T>): Promise<T | undefined> {
    this.pending++;
    const p = this.tail.then(task).then(
      (v) => {
        this.pending--;
        return v;
      },
      (err: unknown) => {
        this.pending--;
        try {
          this.onError(err);
        } catch {
          /* the error handler must not break the queue */
        }
        return undefined;
      },
    );
    this.tail = p;
    return p;
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.pending;
  }

  /** Resolves once every task queued so far has finished. */
  idle(): Promise<void> {
    return this.run(() => undefined).then(() => undefined);
  }
}

export interface PeerOptions {
  /** For logs: who is on the other end ('cloud', 'device@1.2.3.4'). */
  name: string;
  log: LogLike;
  /** Handlers run in this queue. */
  mailbox: Mailbox;
  /** Current largest accepted message in bytes (default MAX_MESSAGE_BYTES); read per message, so it can follow the plan. */
  maxBytes?: () => number;
  /** Counters to add the bytes of every message sent and received to. */
  totals?: ByteTotals;
  /**
   * Whether a rejection (by its code; 'bad_error_reply' for an undecodable
   * ErrorReply) is logged in full; false: the owner only counts it and logs
   * the count later (a server coalescing a flood of bad messages, see
   * LogCoalescer). Default: every rejection is logged.
   */
  logsRejection?: (code: string) => boolean;
  /**
   * Whether an error reply may be sent now; false drops it (the other end
   * is not reading what it is sent, and replies would pile up here).
   * Default: always.
   */
  mayReply?: () => boolean;
}

type Handler<E extends EventName> = (m: MessageOf<E>) => void | Promise<void>;

/** The ErrorReply to send for a failure while handling `event`. */
export function errorReplyFor(err: unknown, event: string, header?: HeaderInit | null): { code: string; message: string; event: string; header: HeaderInit | null } {
  if (err instanceof ProtocolError) return { code: err.code, message: err.detail, event, header: header ?? null };
  return { code: 'internal', message: 'the receiver failed to handle the message', event, header: header ?? null };
}

export class Peer {
  private readonly maxBytes: () => number;

  constructor(readonly socket: SocketLike, private readonly opts: PeerOptions) {
    this.maxBytes = opts.maxBytes ?? (() => MAX_MESSAGE_BYTES);
  }

  get name(): string {
    return this.opts.name;
  }

  /** Encodes and emits one message; returns its size in bytes. Encoding errors (local bugs) throw. */
  send<E extends EventName>(event: E, msg: MessageInitOf<E>): number {
    const bytes = encodeMessage(event, msg);
    this.socket.emit(event, bytes);
    if (this.opts.totals) this.opts.totals.bytesOut += bytes.byteLength;
    return bytes.byteLength;
  }

  /**
   * Handles `event`: decode + validate, then run the handler in the mailbox.
   * A ProtocolError (decode or handler) is logged at warn and answered with
   * an ErrorReply; any other error is logged at error and answered 'internal'.
   */
  on<E extends EventName>(event: E, handler: Handler<E>): this {
    if (event === EVENTS.error) throw new Error('use Peer.onErrorReply for error replies');
    this.socket.on(event, (payload: unknown) => {
      let size = 0;
      let m: MessageOf<E>;
      try {
        size = payloadBytes(payload).byteLength;
        if (this.opts.totals) this.opts.totals.bytesIn += size;
        m = decodeMessage(event, payload, { maxBytes: this.maxBytes() });
      } catch (err) {
        this.reject(err, event, null, size);
        return;
      }
      void this.opts.mailbox.run(async () => {
        try {
          await handler(m);
        } catch (err) {
          const header = (m as { header?: HeaderInit | null }).header ?? null;
          this.reject(err, event, header, size);
        }
      });
    });
    return this;
  }

  /** Handles error replies from the other end. Never answered (no error loops). */
  onErrorReply(handler: (e: ErrorReply) => void): this {
    this.socket.on(EVENTS.error, (payload: unknown) => {
      let e: ErrorReply;
      try {
        e = decodeMessage(EVENTS.error, payload, { maxBytes: this.maxBytes() });
      } catch (err) {
        if (this.opts.logsRejection?.('bad_error_reply') ?? true) this.opts.log.warn({ peer: this.opts.name, err: String(err) }, 'undecodable error reply ignored');
        return;
      }
      void this.opts.mailbox.run(() => handler(e));
    });
    return this;
  }

  /** Logs a rejected message (or leaves it to the owner's count) and sends the ErrorReply. */
  reject(err: unknown, event: string, header: HeaderInit | null, size = 0): void {
    const reply = errorReplyFor(err, event, header);
    if (this.opts.logsRejection?.(reply.code) ?? true) {
      if (err instanceof ProtocolError) {
        this.opts.log.warn({ peer: this.opts.name, event, code: reply.code, round: header?.round, bytes: size, err: reply.message }, 'message rejected');
      } else {
        this.opts.log.error({ peer: this.opts.name, event, err: String(err), stack: (err as Error)?.stack }, 'message handler failed');
      }
    }
    if (this.opts.mayReply && !this.opts.mayReply()) return;
    try {
      this.send(EVENTS.error, reply);
    } catch (sendErr) {
      this.opts.log.error({ peer: this.opts.name, err: String(sendErr) }, 'could not send error reply');
    }
  }
}
