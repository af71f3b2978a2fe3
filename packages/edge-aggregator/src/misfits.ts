// Devices whose data cannot train the run's model (DESIGN §4c): the edge
// refuses them when they say hello and sends them away when a new run
// begins, and tells the cloud once per device and run, so that the operator
// sees one line per device instead of a shape error in every round.
import type { LogLike } from '@hsfl/protocol';
import { MAX_REMOVED_IDS, addBounded, dataFitProblem, type Hello } from '@hsfl/tier-engine';

export class Misfits {
  private readonly reported = new Set<string>();

  constructor(
    private readonly log: LogLike,
    /** Tells the cloud, as a device status that is not connected with this reason. */
    private readonly reportRefused: (hello: Hello, reason: string) => void,
  ) {}

  /** A new run: every device may be reported again. */
  newRun(): void {
    this.reported.clear();
  }

  /** Why `hello`'s data cannot train `model` (reported to the cloud once per run), or undefined when it can. */
  check(hello: Hello, model: string, runId: string): string | undefined {
    const misfit = dataFitProblem(hello, model);
    if (misfit && !this.reported.has(hello.nodeId)) {
      addBounded(this.reported, hello.nodeId, MAX_REMOVED_IDS);
      this.log.warn({ device: hello.nodeId, runId }, `device ${hello.nodeId} cannot train this run: ${misfit}`);
      this.reportRefused(hello, `refused: ${misfit}`.slice(0, 300));
    }
    return misfit;
  }
}
