// Connection attempts per source address: a token bucket each, so that one
// host cannot open connections faster than a node that reconnects ever
// needs to. The table is bounded (least recently seen addresses are
// forgotten first; a forgotten address only gets a fresh burst) and pruned
// of addresses that have been quiet long enough for their bucket to refill.
// Time is passed in, so the rule is tested without clocks or sockets.
import { TokenBucket } from '@hsfl/protocol';

/**
 * accept: within the address's budget. refuse: over it; the connection is
 * told why (ErrorReply 'rate_limited') and closed. reject: over it again
 * within noticeEveryMs; cut at the HTTP upgrade without a word, which costs
 * the server the least.
 */
export type ConnectVerdict = 'accept' | 'refuse' | 'reject';

export interface AddressLimiterOptions {
  /** Attempts an address may make at once... */
  burst: number;
  /** ...and per second after that. */
  perSecond: number;
  /** Most addresses tracked. */
  maxAddresses: number;
  /** At most one 'refuse' (with an explanation) per address this often; the rest are 'reject' (default 1 s). */
  noticeEveryMs?: number;
}

interface Entry {
  bucket: TokenBucket;
  noticeAt: number;
}

export class AddressLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly o: AddressLimiterOptions) {}

  attempt(address: string, now: number): ConnectVerdict {
    let e = this.entries.get(address);
    if (e) {
      // Most recently seen last, so that eviction takes the longest quiet.
      this.entries.delete(address);
    } else {
      e = { bucket: new TokenBucket(this.o.burst, this.o.perSecond, now), noticeAt: -Infinity };
      while (this.entries.size >= this.o.maxAddresses) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(address, e);
    if (e.bucket.take(1, now)) return 'accept';
    if (now - e.noticeAt >= (this.o.noticeEveryMs ?? 1000)) {
      e.noticeAt = now;
      return 'refuse';
    }
    return 'reject';
  }

  /** When the address may try again. */
  retryAfterMs(address: string, now: number): number {
    return this.entries.get(address)?.bucket.waitMs(1, now) ?? 0;
  }

  /** Forgets addresses whose bucket is full again; returns how many. */
  prune(now: number): number {
    let n = 0;
    for (const [address, e] of this.entries) {
      if (e.bucket.full(now)) {
        this.entries.delete(address);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}
