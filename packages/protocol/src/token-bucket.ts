// A token bucket: the rate rule behind every per-peer budget of the link
// servers (connection attempts per address, probe bytes and probes per
// child). Time is passed in, so the rule is tested without clocks.

export class TokenBucket {
  private tokens: number;
  private at: number;

  /** Starts full: `capacity` tokens, refilled at `perSecond` tokens a second. */
  constructor(readonly capacity: number, readonly perSecond: number, now: number) {
    if (!(capacity > 0) || !(perSecond >= 0)) throw new RangeError(`TokenBucket: capacity must be > 0 and perSecond >= 0 (got ${capacity}, ${perSecond})`);
    this.tokens = capacity;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
      this.at = now;
    }
  }

  /** Takes `n` tokens if there are that many (true), else takes none (false). */
  take(n: number, now: number): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Whether the bucket has refilled completely (its owner has been quiet long enough to forget). */
  full(now: number): boolean {
    return this.available(now) >= this.capacity;
  }

  /** Milliseconds until `n` tokens are available (Infinity if never). */
  waitMs(n: number, now: number): number {
    const missing = n - this.available(now);
    if (missing <= 0) return 0;
    if (n > this.capacity || this.perSecond === 0) return Infinity;
    return Math.ceil((missing / this.perSecond) * 1000);
  }
}
