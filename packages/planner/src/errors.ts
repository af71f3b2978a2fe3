/** Bad input: `path` names the offending field (e.g. "devices[2].link.rttMs"). */
export class TopologyError extends Error {
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`invalid topology: ${path}: ${reason}`);
    this.name = 'TopologyError';
    this.path = path;
  }
}

/** The planner cannot produce a plan (e.g. no cut fits in memory). */
export class PlannerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlannerError';
  }
}
