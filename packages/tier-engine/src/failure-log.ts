// The link server's failures as logs and counts: the first of a kind from a
// source is logged in full, the rest are counted and logged as one line per
// interval (LogCoalescer), and the refusals among them (failed hellos,
// connections cut or refused) are handed to the role once per interval, for
// the store. A flood of bad hellos thus costs a bounded number of lines and
// events, not one per attempt.
import { LogCoalescer, type CoalescedCount, type LogLike } from '@hsfl/protocol';

/** Failure kinds that are refusals of a connection (the rest are rejected messages and dropped replies). */
export function isRefusal(kind: string): boolean {
  return kind.startsWith('hello:') || kind === 'no_hello' || kind === 'pre_hello_budget' || kind === 'rate_limited';
}

/** The refusals of one interval, as ChildLinksOptions.onRefusals receives them. */
export interface RefusalReport {
  intervalMs: number;
  /** Refusals counted. */
  total: number;
  /** By kind: 'hello:unauthorized' (wrong token), 'hello:<other code>', 'no_hello', 'pre_hello_budget', 'rate_limited'. */
  byKind: Record<string, number>;
  /** The busiest sources (address, or `*` for those beyond the table), at most 10. */
  top: { kind: string; source: string; count: number }[];
}

const split = (key: string) => {
  const bar = key.indexOf('|');
  return { kind: key.slice(0, bar), source: key.slice(bar + 1) };
};

/** The refusal report of some ended intervals, or undefined if there were none. */
export function refusalReport(counts: CoalescedCount[], intervalMs: number): RefusalReport | undefined {
  const refusals = counts.map((c) => ({ ...split(c.key), count: c.count })).filter((c) => isRefusal(c.kind));
  if (refusals.length === 0) return undefined;
  const byKind: Record<string, number> = {};
  for (const r of refusals) byKind[r.kind] = (byKind[r.kind] ?? 0) + r.count;
  const top = refusals.sort((a, b) => b.count - a.count).slice(0, 10);
  return { intervalMs, total: refusals.reduce((a, r) => a + r.count, 0), byKind, top };
}

/** Most summary lines one flush writes; the remainder is one line with totals. */
const MAX_SUMMARY_LINES = 20;

export interface FailureLogOptions {
  /** For messages: 'device' or 'edge'. */
  childName: string;
  log: LogLike;
  intervalMs: number;
  maxKeys: number;
  onRefusals?: (r: RefusalReport) => void;
}

export class FailureLog {
  private readonly c: LogCoalescer;

  constructor(private readonly o: FailureLogOptions) {
    this.c = new LogCoalescer({ intervalMs: o.intervalMs, maxKeys: o.maxKeys });
  }

  /** Counts one failure; true if the caller should log it in full (the first of its kind from `source` in an interval). */
  count(kind: string, source: string): boolean {
    return this.c.note(`${kind}|${source}`, Date.now());
  }

  /** Counts one failure and, if it is the first of its key, logs it at warn. */
  warn(kind: string, source: string, fields: object, msg: string): void {
    if (this.count(kind, source)) this.o.log.warn({ kind, source, ...fields }, msg);
  }

  /** Ends the intervals that are over (every one with `all`): one line per busy key, and the refusal report. */
  flush(all = false): void {
    const counts = this.c.flush(Date.now(), all);
    const busy = counts.filter((c) => c.suppressed > 0);
    for (const c of busy.slice(0, MAX_SUMMARY_LINES)) {
      const { kind, source } = split(c.key);
      this.o.log.warn({ kind, source, count: c.suppressed, intervalMs: this.o.intervalMs }, `${c.suppressed} more ${kind} from ${this.o.childName} connections at ${source} (counted, not logged one by one)`);
    }
    if (busy.length > MAX_SUMMARY_LINES) {
      const rest = busy.slice(MAX_SUMMARY_LINES);
      this.o.log.warn({ keys: rest.length, count: rest.reduce((a, c) => a + c.suppressed, 0) }, `and more failures from ${rest.length} other kinds or sources`);
    }
    const report = refusalReport(counts, this.o.intervalMs);
    if (!report || !this.o.onRefusals) return;
    // Runs from a timer: a failing recipient (a store already closed) must not take the process down.
    try {
      this.o.onRefusals(report);
    } catch (err) {
      this.o.log.error({ err: String(err) }, 'could not record the refusal counts');
    }
  }

  get size(): number {
    return this.c.size;
  }
}
