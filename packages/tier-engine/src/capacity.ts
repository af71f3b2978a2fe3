// Measuring a node and reporting it to its parent: the same for a device
// and an edge (DESIGN §4: compute per unit on the real backend, memory, the
// link over the real connection).
import { EVENTS, LinkProber, ProtocolError, checkBatchSize, type LogLike, type MessageInitOf, type MessageOf, type Role, type SocketLike } from '@hsfl/protocol';
import { measureCompute, modelInfo } from '@hsfl/runtime';

export type CapacityReportInit = MessageInitOf<typeof EVENTS.capacityReport>;

export interface CapacityReporterOptions {
  nodeId: string;
  role: Role;
  backend: string;
  host: string;
  log: LogLike;
  /** The connection to the parent the link probes run over. */
  socket: SocketLike;
  /** Sends the finished report; returns false if the parent is not connected. */
  send: (report: CapacityReportInit) => boolean;
}

/** Validates what a CapacityRequest (or a report's header) names: a known model and a batch size in bounds. */
export function checkCapacityRequest(m: Pick<MessageOf<typeof EVENTS.capacityRequest>, 'model' | 'batchSize'>): void {
  try {
    modelInfo(m.model);
  } catch {
    throw new ProtocolError('malformed', `unknown model ${JSON.stringify(m.model)}`);
  }
  checkBatchSize(m.batchSize);
}

export class CapacityReporter {
  private measuring = false;
  private readonly prober: LinkProber;
  last?: CapacityReportInit;

  constructor(private readonly o: CapacityReporterOptions) {
    this.prober = new LinkProber(o.socket);
  }

  /** Measures and reports; one measurement at a time (a second request while measuring is dropped). */
  async report(model: string, batchSize: number, probeBytes?: number): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    try {
      const c = await measureCompute(model, batchSize);
      const link = await this.prober.measure({ bytes: probeBytes });
      const report: CapacityReportInit = {
        nodeId: this.o.nodeId, role: this.o.role, parentId: '', backend: this.o.backend, host: this.o.host, model, batchSize,
        fwdMsPerSample: c.fwdMsPerSample, bwdMsPerSample: c.bwdMsPerSample, peakBytes: c.peakBytes,
        memTotalBytes: c.memTotalBytes, memFreeBytes: c.memFreeBytes, cpus: c.cpus, measuredAtMs: Date.now(), ...link,
      };
      if (this.o.send(report)) {
        this.last = report;
        this.o.log.info({ rttMs: link.rttMs, upBytesPerSec: link.upBytesPerSec, downBytesPerSec: link.downBytesPerSec }, 'capacity measured and reported');
      }
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'capacity measurement failed');
    } finally {
      this.measuring = false;
    }
  }
}
