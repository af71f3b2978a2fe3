// The coordinator's refusals, each with a code that says whose fault it is.
// The REST API maps codes to HTTP statuses in one place (api/http.ts
// httpStatusOf); callers in code can tell them apart without parsing text.

export type CoordinatorErrorCode =
  /** The request itself is wrong (a bad trial, bad cuts, a device id that is an edge's). */
  | 'invalid'
  /** It names a run or a node that does not exist (or is not connected). */
  | 'not_found'
  /** It does not fit the current state (another run in progress, a run in the wrong status, no run in progress). */
  | 'conflict'
  /** It was understood but cannot be done now (the planner lacks what it needs). */
  | 'unprocessable';

export class CoordinatorError extends Error {
  override readonly name = 'CoordinatorError';

  constructor(readonly code: CoordinatorErrorCode, message: string) {
    super(message);
  }
}
