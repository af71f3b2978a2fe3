// When each tier is averaged. The coordinator owns the schedule and tells
// every node per round (RoundStart.syncDevices / syncEdges), so edges and
// devices never need to know it.

export interface SyncFlags {
  syncDevices: boolean;
  syncEdges: boolean;
}

export interface SyncSchedule {
  readonly name: string;
  /** Flags of the k-th round (1-based) since the plan took effect. */
  at(k: number): SyncFlags;
}

/** The paper's schedule: device copies every i1 rounds, edge copies every i2. */
export function periodicSchedule(i1: number, i2: number): SyncSchedule {
  for (const [what, v] of [['i1', i1], ['i2', i2]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a whole number >= 1, got ${v}`);
  }
  return {
    name: 'periodic',
    at: (k) => ({ syncDevices: k % i1 === 0, syncEdges: k % i2 === 0 }),
  };
}

export const FULL_SYNC: SyncFlags = Object.freeze({ syncDevices: true, syncEdges: true });

export function isFullSync(f: SyncFlags): boolean {
  return f.syncDevices && f.syncEdges;
}
