import { existsSync } from 'node:fs';
import { Store, type RunRow } from './store/index.js';

/**
 * Marking an interrupted run failed: what `hsfl-coordinator fail` and
 * `POST /api/runs/:id/fail` do. A coordinator that died mid-run leaves the run
 * 'running' or 'paused'; an operator who will not resume it ends it here.
 */

export const DEFAULT_FAIL_REASON = 'marked failed by the operator';

/**
 * Set the run 'failed' with `reason` and record a warn event saying who did it,
 * in one transaction. Throws the store's StoreError: UNKNOWN_RUN, or
 * INVALID_TRANSITION for a run that is not running or paused (nothing changed).
 * The caller makes sure no live coordinator is driving the run.
 */
export function markRunFailed(store: Store, runId: string, reason: string, by: string): { run: RunRow; previousStatus: RunRow['status'] } {
  return store.transaction(() => {
    const previousStatus = store.getRun(runId)?.status ?? 'running';
    const run = store.failInterruptedRun(runId, reason);
    store.addEvent({
      runId, level: 'warn', kind: 'run_marked_failed', nodeId: null,
      message: `run marked failed by ${by} (it was ${previousStatus}): ${reason}`,
      data: { reason, by, previousStatus },
    });
    return { run, previousStatus };
  });
}

/** The CLI command: one line on success; throws an Error with a clear message otherwise (exit code 1). */
export function failRunText(db: string, runId: string, reason: string = DEFAULT_FAIL_REASON): string {
  if (!existsSync(db)) throw new Error(`no store at ${db} (pass --db)`);
  const store = Store.open(db);
  try {
    const run = store.getRun(runId);
    if (!run) throw new Error(`no run ${runId} in ${db}`);
    if (run.status !== 'running' && run.status !== 'paused') {
      throw new Error(`run ${runId} is ${run.status}; only a run left running or paused by a coordinator that stopped can be marked failed`);
    }
    const { previousStatus } = markRunFailed(store, runId, reason, 'the command line');
    return `run ${runId} marked failed (it was ${previousStatus}): ${reason}`;
  } finally {
    store.close();
  }
}
