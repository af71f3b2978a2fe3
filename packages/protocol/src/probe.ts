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
      // A probe in flight when its node shuts down must not keep the process alive.
      timer.unref?.();
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

  /**
   * Each repetition times an empty exchange, an upload and a download back
   * to back, so a passing load spike affects all three alike; the rates are
   * medians of (payload / (transfer - empty round trip)). While a transfer
   * takes less than `minTransferMs` (a fast link, loopback) the payload is
   * quadrupled, up to MAX_PROBE_BYTES, so the rate is not timer noise.
   */
  async measure(opts: { bytes?: number; reps?: number; timeoutMs?: number; minTransferMs?: number } = {}): Promise<LinkMeasurement> {
    let bytes = Math.min(opts.bytes ?? 256 * 1024, MAX_PROBE_BYTES);
    const reps = opts.reps ?? 3;
    const timeoutMs = opts.timeoutMs ?? 60000;
    const minTransferMs = opts.minTransferMs ?? 20;
    for (let i = 0; i < 2; i++) await this.exchange(0, 0, timeoutMs);
    for (;;) {
      const rtts: number[] = [];
      const ups: number[] = [];
      const downs: number[] = [];
      for (let i = 0; i < reps; i++) {
        const empty = await this.exchange(0, 0, timeoutMs);
        rtts.push(empty);
        ups.push(Math.max((await this.exchange(bytes, 0, timeoutMs)) - empty, 0.01));
        downs.push(Math.max((await this.exchange(0, bytes, timeoutMs)) - empty, 0.01));
      }
      const up = median(ups);
      const down = median(downs);
      if (Math.min(up, down) >= minTransferMs || bytes >= MAX_PROBE_BYTES) {
        return { rttMs: median(rtts), upBytesPerSec: bytes / (up / 1000), downBytesPerSec: bytes / (down / 1000) };
      }
      bytes = Math.min(bytes * 4, MAX_PROBE_BYTES);
    }
  }
}
