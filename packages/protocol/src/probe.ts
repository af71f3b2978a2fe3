// Link measurement over the real connection with real payloads (DESIGN §4):
// the child times Probe -> ProbeReply exchanges with its parent. Both sides
// use the raw socket, not the Mailbox, so a busy role does not inflate the
// measured round trips.
//
// A probe asks the parent to send bytes back, so answering it is an
// amplifier (a 100-byte probe can ask for megabytes). The parent answers
// only children that joined, one reply at a time (none while an earlier
// reply or other traffic is still waiting in its own buffers: the child is
// not reading), within a byte and a count budget per child; anything else
// is dropped without a reply. LinkProber never needs more: it sends one
// probe at a time and its largest measurement fits the budget.
import { EVENTS } from './events.js';
import { decodeMessage, encodeMessage } from './messages.js';
import { TokenBucket } from './token-bucket.js';
import type { SocketLike, LogLike } from './peer.js';

const MiB = 1024 * 1024;

/** Largest reply a parent sends to one probe (and largest probe payload it reads). */
export const MAX_PROBE_BYTES = 8 * MiB;

/** How a parent bounds what probes can make it send to one child. */
export interface ProbeBudget {
  /** Largest reply (bytes); a larger request is answered with this many (the child measures on what arrives). */
  maxReplyBytes: number;
  /** A probe that finds more than this already waiting to go to the child is dropped (the child is not reading). */
  maxQueuedBytes: number;
  /** Reply bytes a child may draw at once, and per second after that. */
  burstBytes: number;
  bytesPerSec: number;
  /** Probes a child may send at once, and per second after that. */
  burstProbes: number;
  probesPerSec: number;
}

/**
 * One LinkProber measurement draws at most ~40 MiB of replies (3 downloads
 * of each of 256 KiB, 1, 4 and 8 MiB) in ~40 probes; the burst allows one
 * whole measurement, and the rate a second one a couple of seconds later.
 */
export const DEFAULT_PROBE_BUDGET: ProbeBudget = {
  maxReplyBytes: MAX_PROBE_BYTES,
  maxQueuedBytes: 1 * MiB,
  burstBytes: 64 * MiB,
  bytesPerSec: 32 * MiB,
  burstProbes: 100,
  probesPerSec: 50,
};

export type ProbeDrop = 'not_joined' | 'not_reading' | 'over_budget' | 'malformed';

/** What answerProbes asks of the connection a probe came in on. */
export interface ProbeGate {
  /** Whether the sender is a joined child (probes before hello get nothing). */
  joined(): boolean;
  /** Bytes already waiting in this process to be sent to the sender. */
  queuedBytes(): number;
  /** A probe was not answered, and why (for coalesced logs). */
  dropped(reason: ProbeDrop): void;
}

/** Per-child budget state: a byte bucket and a count bucket. */
export class ProbeAllowance {
  private readonly bytes: TokenBucket;
  private readonly count: TokenBucket;

  constructor(readonly budget: ProbeBudget, now: number) {
    this.bytes = new TokenBucket(budget.burstBytes, budget.bytesPerSec, now);
    this.count = new TokenBucket(budget.burstProbes, budget.probesPerSec, now);
  }

  /**
   * The rule: how many bytes to answer a probe asking for `requested` with,
   * or why it is dropped. Checked in order: joined, not reading, count
   * budget, byte budget (a reply that does not fit is dropped whole: a
   * shorter one would corrupt the child's rate).
   */
  verdict(p: { joined: boolean; requested: number; queuedBytes: number }, now: number): { reply: number } | { drop: ProbeDrop } {
    if (!p.joined) return { drop: 'not_joined' };
    if (p.queuedBytes > this.budget.maxQueuedBytes) return { drop: 'not_reading' };
    const n = Math.min(Math.max(0, Math.floor(p.requested)), this.budget.maxReplyBytes);
    if (!this.count.take(1, now)) return { drop: 'over_budget' };
    if (!this.bytes.take(n, now)) return { drop: 'over_budget' };
    return { reply: n };
  }
}

export interface LinkMeasurement {
  upBytesPerSec: number;
  downBytesPerSec: number;
  rttMs: number;
}

/** Parent side: answers probes of a joined child within its budget (see ProbeAllowance.verdict). */
export function answerProbes(socket: SocketLike, log: LogLike, gate: ProbeGate, budget: ProbeBudget = DEFAULT_PROBE_BUDGET): void {
  let allowance: ProbeAllowance | undefined;
  socket.on(EVENTS.probe, (payload: unknown) => {
    // Nothing is decoded for a sender that has not joined.
    if (!gate.joined()) {
      gate.dropped('not_joined');
      return;
    }
    let m;
    try {
      // An upload probe carries up to MAX_PROBE_BYTES whatever the reply cap.
      m = decodeMessage(EVENTS.probe, payload, { maxBytes: MAX_PROBE_BYTES + 1024 });
    } catch (err) {
      gate.dropped('malformed');
      log.debug({ err: String(err) }, 'bad link probe ignored');
      return;
    }
    const now = Date.now();
    allowance ??= new ProbeAllowance(budget, now);
    const v = allowance.verdict({ joined: true, requested: m.replyBytes, queuedBytes: gate.queuedBytes() }, now);
    if ('drop' in v) {
      gate.dropped(v.drop);
      return;
    }
    socket.emit(EVENTS.probeReply, encodeMessage(EVENTS.probeReply, { id: m.id, payload: new Uint8Array(v.reply) }));
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
  private readonly waiting = new Map<number, (replyBytes: number) => void>();

  constructor(private readonly socket: SocketLike) {
    socket.on(EVENTS.probeReply, (payload: unknown) => {
      try {
        const m = decodeMessage(EVENTS.probeReply, payload, { maxBytes: MAX_PROBE_BYTES + 1024 });
        this.waiting.get(m.id)?.(m.payload.byteLength);
      } catch {
        /* a broken reply just times out */
      }
    });
  }

  /** One exchange: its duration and the size of the reply (which a parent may cap below what was asked). */
  private exchange(upBytes: number, replyBytes: number, timeoutMs: number): Promise<{ ms: number; replyBytes: number }> {
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
      this.waiting.set(id, (got) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve({ ms: performance.now() - t0, replyBytes: got });
      });
      this.socket.emit(EVENTS.probe, bytes);
    });
  }

  /**
   * Each repetition times an empty exchange, an upload and a download back
   * to back, so a passing load spike affects all three alike; the rates are
   * medians of (payload / (transfer - empty round trip)), the download's
   * payload being what the parent actually sent. While a transfer takes
   * less than `minTransferMs` (a fast link, loopback) the payload is
   * quadrupled, up to MAX_PROBE_BYTES or what the parent answers with, so
   * the rate is not timer noise.
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
      const downs: { ms: number; got: number }[] = [];
      for (let i = 0; i < reps; i++) {
        const empty = (await this.exchange(0, 0, timeoutMs)).ms;
        rtts.push(empty);
        ups.push(Math.max((await this.exchange(bytes, 0, timeoutMs)).ms - empty, 0.01));
        const down = await this.exchange(0, bytes, timeoutMs);
        downs.push({ ms: Math.max(down.ms - empty, 0.01), got: down.replyBytes });
      }
      const up = median(ups);
      const downMs = median(downs.map((d) => d.ms));
      // A parent that answers with less than asked sets the ceiling: growing further changes nothing.
      const capped = downs.some((d) => d.got < bytes);
      if (Math.min(up, downMs) >= minTransferMs || bytes >= MAX_PROBE_BYTES || capped) {
        return { rttMs: median(rtts), upBytesPerSec: bytes / (up / 1000), downBytesPerSec: median(downs.map((d) => d.got / (d.ms / 1000))) };
      }
      bytes = Math.min(bytes * 4, MAX_PROBE_BYTES);
    }
  }
}
