/**
 * Counts events per key in fixed windows, for what does not pass through
 * Fastify's hooks (the live feed's socket.io handshakes). Memory is bounded:
 * beyond `maxKeys` the oldest key is forgotten (its count starts afresh,
 * which errs on the side of letting a request through, never of growing).
 */
export class WindowLimiter {
  private readonly counts = new Map<string, { n: number; start: number }>();

  constructor(readonly max: number, readonly windowMs = 60_000, private readonly maxKeys = 10_000) {}

  /** Whether `key` is already over the limit in its current window (without counting). */
  exceeded(key: string): boolean {
    const c = this.current(key, Date.now());
    return c !== undefined && c.n >= this.max;
  }

  /** Counts one event of `key`; whether it was within the limit. */
  hit(key: string): boolean {
    const now = Date.now();
    let c = this.current(key, now);
    if (!c) {
      if (this.counts.size >= this.maxKeys) this.counts.delete(this.counts.keys().next().value!);
      c = { n: 0, start: now };
      this.counts.set(key, c);
    }
    c.n++;
    return c.n <= this.max;
  }

  /** Seconds until `key`'s window ends. */
  retryAfterS(key: string): number {
    const c = this.counts.get(key);
    return c ? Math.max(1, Math.ceil((c.start + this.windowMs - Date.now()) / 1000)) : 1;
  }

  private current(key: string, now: number): { n: number; start: number } | undefined {
    const c = this.counts.get(key);
    if (c && now - c.start >= this.windowMs) {
      this.counts.delete(key);
      return undefined;
    }
    return c;
  }
}
