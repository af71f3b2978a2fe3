// What a link server enforces below socket.io, on the connection itself.
//
// Before hello: socket.io's buffer limit is the big per-message one (tens
// of MiB, for activations), and `ws` assembles a whole message before
// socket.io sees any of it, so a stranger could make the server hold that
// much per connection without ever being checked. The guard counts the
// bytes arriving on the underlying TCP (or TLS) socket and destroys it past
// a small budget, and closes a connection that has not joined in time. A
// successful hello releases it; the big limit applies from then on.
//
// After hello: what is still waiting in this process to go to a child
// (engine.io's write buffer and the socket's own) tells whether it reads
// what it is sent; replies it provokes (errors, probes) are not queued to a
// child that does not.
import type { Duplex } from 'node:stream';

export type GuardCut = 'pre_hello_budget' | 'no_hello';

export interface PreHelloGuardOptions {
  /** Bytes the peer may send before release(). */
  budgetBytes: number;
  /** Time it has to be released. */
  timeoutMs: number;
  /**
   * The budget ran out (the socket is already destroyed) or the time did
   * (the owner closes it, politely if it can).
   */
  onCut: (why: GuardCut) => void;
}

export class PreHelloGuard {
  private used = 0;
  private done = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onData = (chunk: Buffer | string) => {
    this.used += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.used > this.o.budgetBytes) {
      this.release();
      this.raw.destroy();
      this.o.onCut('pre_hello_budget');
    }
  };

  constructor(private readonly raw: Duplex, private readonly o: PreHelloGuardOptions) {
    raw.on('data', this.onData);
    raw.once('close', () => this.release());
    this.timer = setTimeout(() => {
      if (this.done) return;
      this.release();
      this.o.onCut('no_hello');
    }, o.timeoutMs);
    this.timer.unref();
  }

  /** Bytes received so far (while guarding). */
  get bytes(): number {
    return this.used;
  }

  get released(): boolean {
    return this.done;
  }

  /** The peer joined (or the connection is gone): stop counting and timing. */
  release(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.raw.off('data', this.onData);
  }
}

/** The parts of an engine.io connection (socket.conn) this file reads. */
export interface EngineConnLike {
  request: { socket: Duplex & { writableLength: number; destroyed: boolean } };
}

/** Bytes waiting in this process to be sent on an engine.io connection: its write buffer and the socket's. */
export function queuedBytes(conn: EngineConnLike): number {
  let n = 0;
  // engine.io keeps packets here while the transport is busy (private in its types).
  const buffer = (conn as unknown as { writeBuffer?: { data?: unknown }[] }).writeBuffer ?? [];
  for (const p of buffer) {
    const d = p.data;
    if (typeof d === 'string') n += d.length;
    else if (d && typeof (d as ArrayBufferView).byteLength === 'number') n += (d as ArrayBufferView).byteLength;
  }
  return n + (conn.request.socket.writableLength ?? 0);
}

/** Closes a connection at once, whatever is still queued on it. */
export function destroyConn(conn: EngineConnLike): void {
  if (!conn.request.socket.destroyed) conn.request.socket.destroy();
}
