import { io, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { EVENTS, encodeMessage, decodeMessage, type EventName, type MessageInitOf, type MessageOf } from '@hsfl/protocol';

type ErrorReply = MessageOf<typeof EVENTS.error>;

/**
 * A hand-driven peer for adversarial tests: sends whatever bytes it is told
 * to and records every message and error reply it receives.
 */
export class RoguePeer {
  readonly socket: Socket;
  readonly errors: ErrorReply[] = [];
  readonly received: { event: string; msg: unknown }[] = [];
  readonly goodbyes: MessageOf<typeof EVENTS.goodbye>[] = [];
  disconnected = false;

  /** `options`: further socket.io-client options, e.g. TLS (ca, cert, key, checkServerIdentity). */
  constructor(url: string, options: Partial<ManagerOptions & SocketOptions> & Record<string, unknown> = {}) {
    this.socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
    this.socket.on(EVENTS.goodbye, (p: unknown) => this.goodbyes.push(decodeMessage(EVENTS.goodbye, p)));
    this.socket.on(EVENTS.error, (p: unknown) => this.errors.push(decodeMessage(EVENTS.error, p)));
    this.socket.on('disconnect', () => (this.disconnected = true));
    for (const ev of [EVENTS.welcome, EVENTS.roundStart, EVENTS.gradients, EVENTS.weightsDown, EVENTS.runEnd] as EventName[]) {
      this.socket.on(ev, (p: unknown) => this.received.push({ event: ev, msg: decodeMessage(ev, p) }));
    }
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
  }

  send<E extends EventName>(event: E, msg: MessageInitOf<E>): void {
    this.socket.emit(event, encodeMessage(event, msg));
  }

  sendRaw(event: string, payload: unknown): void {
    this.socket.emit(event, payload);
  }

  /** Waits for the next error reply and returns it. */
  async nextError(timeoutMs = 10000): Promise<ErrorReply> {
    const seen = this.errors.length;
    const end = Date.now() + timeoutMs;
    while (this.errors.length === seen) {
      if (Date.now() > end) throw new Error('no error reply');
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.errors[seen]!;
  }

  async nextMessage<E extends EventName>(event: E, after: number, timeoutMs = 30000): Promise<MessageOf<E>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.slice(after).find((r) => r.event === event);
      if (hit) return hit.msg as MessageOf<E>;
      if (Date.now() > end) throw new Error(`no ${event}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.disconnect();
  }
}
