// The round barrier of one tier (DESIGN §2, "Faults"): who is expected to
// deliver, who delivered, who sat out, who is late, and who is still owed
// a reply. Pure state: no sockets and no timers (the caller arms the
// deadline and calls expire()). Deliveries are counted by child id, never by
// message count, and a child that leaves takes its delivery with it.
import { ProtocolError } from '@hsfl/protocol';

/**
 * collect: waiting for children's activations.
 * up:      the batch went to the parent; waiting for its gradient (edges only).
 * down:    gradients went to the children; waiting for each one's RoundDone.
 * done:    closed; nothing more is accepted for this round.
 */
export type Phase = 'collect' | 'up' | 'down' | 'done';

const NEXT: Record<Phase, readonly Phase[]> = {
  collect: ['up', 'down', 'done'],
  up: ['down', 'done'],
  down: ['done'],
  done: [],
};

export class RoundBarrier<P, R> {
  private phase_: Phase = 'collect';
  /** Children asked to deliver this round. */
  readonly expected: ReadonlySet<string>;
  private readonly delivered_ = new Map<string, P>();
  private readonly satOut_ = new Set<string>();
  private readonly late_ = new Set<string>();
  /** Children that delivered and left before their gradient went back: they take no step. */
  private readonly gone = new Set<string>();
  private readonly owed_ = new Set<string>();
  private readonly reports_ = new Map<string, R>();
  /** beginDown ran: the children owed a RoundDone are fixed. */
  private downBegun = false;

  constructor(readonly round: number, expected: Iterable<string>) {
    this.expected = new Set(expected);
  }

  get phase(): Phase {
    return this.phase_;
  }

  /** Children that missed a deadline or left mid-round. */
  get late(): ReadonlySet<string> {
    return this.late_;
  }

  get satOut(): ReadonlySet<string> {
    return this.satOut_;
  }

  /** Children whose RoundDone is still awaited. */
  get owed(): ReadonlySet<string> {
    return this.owed_;
  }

  /** RoundDone reports received, by child. */
  get reports(): ReadonlyMap<string, R> {
    return this.reports_;
  }

  /** Deliveries still in the round, by child id. */
  get delivered(): ReadonlyMap<string, P> {
    return this.delivered_;
  }

  /** Collect is complete: every expected child delivered, sat out, or is late. */
  get collectReady(): boolean {
    if (this.phase_ !== 'collect') return false;
    for (const id of this.expected) if (!this.delivered_.has(id) && !this.satOut_.has(id) && !this.late_.has(id)) return false;
    return true;
  }

  /** Down is complete: nobody is owed a reply any more. */
  get downReady(): boolean {
    return this.phase_ === 'down' && this.owed_.size === 0;
  }

  /** Accepts a child's activations; 'stale' if it is not expected now or delivered already. */
  deliver(id: string, payload: P): void {
    this.requireCollecting(id);
    this.delivered_.set(id, payload);
  }

  /** A child says it has nothing this round (an edge none of whose devices delivered). */
  sitOut(id: string): void {
    this.requireCollecting(id);
    this.satOut_.add(id);
  }

  /** A child left (disconnected, replaced by a new connection, removed): it releases whatever it held. */
  drop(id: string): void {
    if (this.phase_ === 'done' || !this.expected.has(id)) return;
    if (this.phase_ === 'collect') {
      if (this.satOut_.has(id)) return;
      this.delivered_.delete(id);
      this.late_.add(id);
    } else if (this.phase_ === 'up' || !this.downBegun) {
      // 'up', or 'down' before beginDown (the cloud): it takes no step.
      if (this.delivered_.has(id)) this.gone.add(id);
    } else if (this.owed_.delete(id)) {
      this.late_.add(id);
    }
  }

  /** The deadline passed: whoever has not answered in this phase is late. */
  expire(): void {
    if (this.phase_ === 'collect') {
      for (const id of this.expected) if (!this.delivered_.has(id) && !this.satOut_.has(id)) this.late_.add(id);
    } else if (this.phase_ === 'down') {
      for (const id of this.owed_) this.late_.add(id);
      this.owed_.clear();
    }
  }

  /** Closes collect: returns the deliveries (sorted by id) and moves to `next`. */
  closeCollect(next: 'up' | 'down'): { id: string; payload: P }[] {
    this.move('collect', next);
    return [...this.delivered_.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, payload]) => ({ id, payload }));
  }

  /**
   * Gradients are going down: returns the children still present to send
   * them to, and awaits a RoundDone from each. Children that left meanwhile
   * are late.
   */
  beginDown(): string[] {
    if (this.phase_ === 'up') this.move('up', 'down');
    else if (this.phase_ !== 'down' || this.downBegun) throw new Error(`round ${this.round}: cannot move from ${this.phase_} to down${this.downBegun ? ' (gradients already went down)' : ''}`);
    this.downBegun = true;
    const to = [...this.delivered_.keys()].filter((id) => !this.gone.has(id) && !this.late_.has(id)).sort();
    for (const id of this.gone) this.late_.add(id);
    for (const id of to) this.owed_.add(id);
    return to;
  }

  /** A child's RoundDone; 'stale' unless it is owed. */
  report(id: string, r: R): void {
    if (this.phase_ !== 'down' || !this.owed_.has(id)) throw new ProtocolError('stale', `round ${this.round}: not expecting round done from ${id}`);
    this.owed_.delete(id);
    this.reports_.set(id, r);
  }

  /** Whether `id` is owed a reply now (for messages that travel with RoundDone, such as weights). */
  owes(id: string): boolean {
    return this.phase_ === 'down' && this.owed_.has(id);
  }

  finish(): void {
    this.phase_ = 'done';
  }

  private requireCollecting(id: string): void {
    if (this.phase_ !== 'collect' || !this.expected.has(id) || this.late_.has(id)) {
      throw new ProtocolError('stale', `round ${this.round} is no longer collecting from ${id}`);
    }
    if (this.delivered_.has(id) || this.satOut_.has(id)) throw new ProtocolError('stale', `round ${this.round}: ${id} already delivered`);
  }

  private move(from: Phase, to: Phase): void {
    if (this.phase_ !== from || (from !== to && !NEXT[from].includes(to))) {
      throw new Error(`round ${this.round}: cannot move from ${this.phase_} to ${to}`);
    }
    this.phase_ = to;
  }
}

/** A restartable deadline; the timer never keeps the process alive. */
export class Deadline {
  private timer?: NodeJS.Timeout;

  arm(ms: number, onExpire: () => void): void {
    this.clear();
    this.timer = setTimeout(onExpire, ms);
    this.timer.unref();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
