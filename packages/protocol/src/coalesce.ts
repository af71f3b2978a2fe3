// Coalescing repeated log lines. A hostile or broken peer can make a server
// refuse thousands of messages a second; one log line (or stored event) for
// each would let it fill the disk and bury everything else. The first
// occurrence of a kind of failure from one source is logged in full; the
// ones after it are only counted, and the count is logged once per interval.
// Time is passed in, so the rule is tested without clocks.

export interface CoalescerOptions {
  /** Length of a counting interval (default 10 s). */
  intervalMs?: number;
  /** Most keys tracked at once; further keys are counted under `<kind>|*` (default 1024). */
  maxKeys?: number;
}

/** What one key saw in an interval that is over. */
export interface CoalescedCount {
  key: string;
  /** Occurrences in the interval, the one logged in full included. */
  count: number;
  /** Occurrences that were not logged in full. */
  suppressed: number;
}

interface Entry {
  start: number;
  count: number;
  logged: number;
}

/**
 * Keys are `<kind>|<source>` (e.g. `wrong_token|10.0.0.7`); when the table
 * is full a new source is counted under `<kind>|*`, so the table stays
 * bounded whatever the number of sources.
 */
export class LogCoalescer {
  readonly intervalMs: number;
  readonly maxKeys: number;
  private readonly entries = new Map<string, Entry>();

  constructor(o: CoalescerOptions = {}) {
    this.intervalMs = o.intervalMs ?? 10_000;
    this.maxKeys = o.maxKeys ?? 1024;
  }

  /** The key an occurrence is counted under: `key` itself, or its kind's overflow key when the table is full. */
  keyFor(key: string): string {
    if (this.entries.has(key) || this.entries.size < this.maxKeys) return key;
    const bar = key.indexOf('|');
    return `${bar < 0 ? key : key.slice(0, bar)}|*`;
  }

  /**
   * Counts one occurrence; true when it should be logged in full: the first
   * of a key that was quiet for an interval. A key that keeps firing is
   * only counted, and reported by flush().
   */
  note(key: string, now: number): boolean {
    const k = this.keyFor(key);
    const e = this.entries.get(k);
    if (e) {
      e.count++;
      return false;
    }
    this.entries.set(k, { start: now, count: 1, logged: 1 });
    return true;
  }

  /**
   * Ends the intervals that are over at `now` (all of them with `all`) and
   * returns their counts. A key with occurrences that were not logged starts
   * a new, quiet interval (its next occurrences are counted, not logged); a
   * key that had none is forgotten.
   */
  flush(now: number, all = false): CoalescedCount[] {
    const out: CoalescedCount[] = [];
    for (const [key, e] of this.entries) {
      if (!all && now - e.start < this.intervalMs) continue;
      if (e.count > 0) out.push({ key, count: e.count, suppressed: e.count - e.logged });
      if (e.count > e.logged && !all) this.entries.set(key, { start: now, count: 0, logged: 0 });
      else this.entries.delete(key);
    }
    return out;
  }

  /** Keys tracked now. */
  get size(): number {
    return this.entries.size;
  }
}

/** `s` cut to at most `max` characters, marked with an ellipsis and its full length when cut (for logs and stored text). */
export function clip(s: unknown, max = 64): string {
  const str = typeof s === 'string' ? s : String(s);
  if (str.length <= max) return str;
  return `${str.slice(0, max)}...(${str.length} chars)`;
}
