// Sets keyed by ids that peers (or an operator) choose must not grow without
// bound over a long-lived server's life.

/** Adds `v` to `set` as its newest entry, forgetting the oldest ones beyond `max`. */
export function addBounded<T>(set: Set<T>, v: T, max: number): void {
  set.delete(v);
  set.add(v);
  while (set.size > max) set.delete(set.values().next().value as T);
}

/** Most ids an edge or the coordinator remembers as removed by the operator within one run. */
export const MAX_REMOVED_IDS = 1024;
