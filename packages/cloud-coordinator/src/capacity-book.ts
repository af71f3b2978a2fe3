// The latest capacity report of each node, as the planner reads it. Reports
// are keyed by node ids that edges and devices choose, so the book is
// bounded: every node of the fleet (itself bounded by the edge limit and
// MAX_DEVICES_PER_EDGE), plus the reports of the last `keepDeparted` nodes
// that left. A node that drops its connection and comes back within a run is
// not measured again, so its report must outlive a short absence; a churn
// of ids that come and go pushes out only the oldest departed reports.
import type { CapacitySnapshot } from './planning.js';

export const DEFAULT_DEPARTED_REPORTS_KEPT = 256;

export class CapacityBook extends Map<string, CapacitySnapshot> {
  /** Nodes that left, oldest first, whose reports are still kept. */
  private readonly departed = new Set<string>();

  constructor(readonly keepDeparted = DEFAULT_DEPARTED_REPORTS_KEPT) {
    super();
  }

  /** A (new) report: its node is present. */
  override set(id: string, snap: CapacitySnapshot): this {
    this.departed?.delete(id);
    return super.set(id, snap);
  }

  /** A node left: its report is kept among the last keepDeparted departed ones. */
  left(id: string): void {
    if (!this.has(id)) return;
    this.departed.delete(id);
    this.departed.add(id);
    while (this.departed.size > this.keepDeparted) {
      const oldest = this.departed.values().next().value as string;
      this.departed.delete(oldest);
      this.delete(oldest);
    }
  }

  /** Reports of nodes that left and are still kept. */
  get departedCount(): number {
    return this.departed.size;
  }
}
