// Link measurement over the real connection with real payloads (DESIGN §4):
// the child times Probe -> ProbeReply exchanges with its parent. Both sides
// use the raw socket, not the Mailbox, so a busy role does not inflate the
// measured round trips.
import { EVENTS } from './events.js';
import { decodeMessage, encodeMessage } from './messages.js';
import type { SocketLike, LogLike } from './peer.js';

/** Largest reply a parent sends to one probe; bounds what a probe can make it allocate. */
export const MAX_PROBE_BYTES = 8 * 1024 * 1024;

export interface LinkMeasurement {
  upBytesPerSec: number;
  downBytesPerSec: number;
  rttMs: number;
}

/** Parent side: answers every probe at once with the requested number of bytes. */
export function answerProbes(socket: SocketLike, log: LogLike): void {
  socket.on(EVENTS.probe, (payload: unknown) => {
    try {
      const m = decodeMessage(EVENTS.probe, payload, { maxBytes: MAX_PROBE_BYTES + 1024 });
      const n = Math.min(m.replyBytes, MAX_PROBE_BYTES);
      socket.emit(EVENTS.probeReply, encodeMessage(EVENTS.probeReply, { id: m.id, payload: new Uint8Array(n) }));
    } catch (err) {
      log.warn({ err: String(err) }, 'bad link probe ignored');
    }
  });
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Child side: measures round-trip time (empty probes), then upload (probes
 * carrying `bytes`, empty replies) and download (empty probes, replies of
 * `bytes`), each the median of `reps` exchanges, one at a time.
 */
export class LinkProber {
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();

  constructor(private readonly socket: SocketLike) {
    socket.on(EVENTS.probeReply, (payload: unknown) => {
      try {
        const m = decodeMessage(EVENTS.probeReply, payload, { maxBytes: MAX_PROBE_BYTES + 1024 });
        this.waiting.get(m.id)?.();
      } catch {
        /* a broken reply just times out */
      }
    });
  }

  private exchange(upBytes: number, replyBytes: number, timeoutMs: number): Promise<number> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`link probe ${id} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const bytes = encodeMessage(EVENTS.probe, { id, payload: new Uint8Array(upBytes), replyBytes });
      const t0 = performance.now();
      this.waiting.set(id, () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(performance.now() - t0);
      });
      this.socket.emit(EVENTS.probe, bytes);
    });
  }

  async measure(opts: { bytes?: number; reps?: number; timeoutMs?: number } = {}): Promise<LinkMeasurement> {
    const bytes = Math.min(opts.bytes ?? 256 * 1024, MAX_PROBE_BYTES);
    const reps = opts.reps ?? 3;
    const timeoutMs = opts.timeoutMs ?? 60000;
    const rtts: number[] = [];
    for (let i = 0; i < reps + 2; i++) rtts.push(await this.exchange(0, 0, timeoutMs));
    const rtt = median(rtts);
    const ups: number[] = [];
    const downs: number[] = [];
    for (let i = 0; i < reps; i++) {
      ups.push(await this.exchange(bytes, 0, timeoutMs));
      downs.push(await this.exchange(0, bytes, timeoutMs));
    }
    // The transfer time is what a payload adds to an empty round trip; floor
    // it at a microsecond so loopback does not divide by zero.
    const rate = (t: number) => bytes / (Math.max(t - rtt, 0.001) / 1000);
    return { rttMs: rtt, upBytesPerSec: rate(median(ups)), downBytesPerSec: rate(median(downs)) };
  }
}
