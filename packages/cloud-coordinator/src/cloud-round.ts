// The cloud's part of a round (DESIGN §2, step 3, and the aggregations):
// collect the edges' activations through the tier engine's barrier, train
// the top, send each edge the gradient of its slice, gather the edges'
// RoundDone and uploads, and average the tiers that sync this round.
import {
  EVENTS, ProtocolError, checkHeader, checkLabels, checkWeights, encodeTensor, expectTensor, isNodeId,
  MAX_DEVICES_PER_EDGE, Tier, codecName,
  type ByteTotals, type MessageInitOf, type MessageOf, type Plan, type EventName,
} from '@hsfl/protocol';
import { modelInfo, tierWeightShapes } from '@hsfl/runtime';
import {
  RoundBarrier, Deadline, SampleLedger, aggregatorFor, checkRoundDone, concatSlices, splitBySlices, headerFor,
  type RoundReport, type SyncFlags, type TierModel, type Part,
} from '@hsfl/tier-engine';
import type { RoundResult } from './run-state.js';

interface EdgeBatch extends Part {
  /** Devices in the edge's batch. */
  devices: number;
}

/** What the cloud tier needs of the rest of the coordinator. */
export interface CloudRoundContext {
  plan: Plan;
  top: TierModel;
  /** Samples observed from each edge since the device / edge tier was last averaged. */
  deviceSamples: SampleLedger;
  edgeSamples: SampleLedger;
  edgeBytes: ByteTotals;
  send<E extends EventName>(edgeId: string, event: E, msg: MessageInitOf<E>): void;
  /** Sends to every connected edge (the averages go to all, not only to this round's). */
  broadcast<E extends EventName>(event: E, msg: MessageInitOf<E>): void;
  warn(kind: string, message: string): void;
  /** Runs fn in the coordinator's mailbox (deadlines fire outside it). */
  inMailbox(fn: () => void): void;
}

/** A finished round: its metrics, the tiers it averaged and the gradient statistics reported. */
export interface RoundOutcome {
  result: RoundResult;
  deviceAvg?: Float32Array[];
  edgeAvg?: Float32Array[];
  gradSq: { start: number; values: readonly number[] }[];
}

export class CloudRound {
  readonly barrier: RoundBarrier<EdgeBatch, RoundReport>;
  private readonly deviceAvgs = new Map<string, Float32Array[]>();
  private readonly edgeCopies = new Map<string, Float32Array[]>();
  private readonly deadline = new Deadline();
  private readonly startedAt = performance.now();
  private phaseStartedAt = performance.now();
  private readonly bytesInAtStart: number;
  private readonly bytesOutAtStart: number;
  private loss = 0;
  private correct = 0;
  private samples = 0;
  private participants = 0;
  private computeMs = 0;
  private waitMs = 0;
  /** Samples whose gradient went back to each edge. */
  private readonly sent = new Map<string, number>();
  /** RoundDone of the edges that sat the round out. */
  private readonly sitOutReports = new Map<string, RoundReport>();
  readonly done: Promise<RoundOutcome>;
  private resolve!: (o: RoundOutcome) => void;
  private reject!: (err: Error) => void;

  constructor(private readonly c: CloudRoundContext, readonly round: number, readonly flags: SyncFlags, edges: Iterable<string>) {
    this.barrier = new RoundBarrier(round, edges);
    this.bytesInAtStart = c.edgeBytes.bytesIn;
    this.bytesOutAtStart = c.edgeBytes.bytesOut;
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // An abort may come before the run loop awaits `done`; it is awaited there.
    this.done.catch(() => undefined);
  }

  /** Sends RoundStart to every expected edge and arms the deadline. */
  begin(): void {
    const start = { header: headerFor(this.c.plan, this.round, 'cloud'), ...this.flags };
    for (const id of this.barrier.expected) this.c.send(id, EVENTS.roundStart, start);
    this.armDeadline();
    this.progress();
  }

  onActivations(edgeId: string, m: MessageOf<typeof EVENTS.activations>): void {
    const { plan, top } = this.c;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: this.round });
    const act = expectTensor(m.activations, { shape: [null, ...top.inputShape()], dtype: 'float32', finite: true });
    const n = act.shape[0]!;
    const sliceTotal = m.slices.reduce((s, x) => s + x.samples, 0);
    if (n < 1 || m.slices.length > MAX_DEVICES_PER_EDGE || sliceTotal !== n || m.slices.some((s) => s.samples < 1 || s.samples > plan.batchSize || !isNodeId(s.nodeId))) {
      throw new ProtocolError('bad_shape', `${n} samples in ${m.slices.length} slices summing to ${sliceTotal} do not fit batch size ${plan.batchSize}`);
    }
    const y = checkLabels(m.labels, modelInfo(plan.model).numClasses, n);
    this.barrier.deliver(edgeId, { id: edgeId, x: act.data, y, n, devices: m.slices.length });
    this.progress();
  }

  onRoundDone(edgeId: string, m: MessageOf<typeof EVENTS.roundDone>): void {
    const plan = this.c.plan;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: this.round });
    checkRoundDone(m, modelInfo(plan.model).numUnits);
    if (this.barrier.phase === 'collect' && m.samples === 0) {
      // The edge sits this round out (none of its devices delivered in time).
      this.barrier.sitOut(edgeId);
      this.sitOutReports.set(edgeId, m);
    } else {
      this.barrier.report(edgeId, m);
    }
    this.progress();
  }

  onWeightsUp(edgeId: string, m: MessageOf<typeof EVENTS.weightsUp>): void {
    const plan = this.c.plan;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: this.round });
    if (!this.barrier.owes(edgeId)) throw new ProtocolError('stale', `not expecting weights from ${edgeId} now`);
    if (m.tier === Tier.TIER_DEVICE) {
      if (!this.flags.syncDevices) throw new ProtocolError('stale', `round ${this.round} does not aggregate devices`);
      if (this.deviceAvgs.has(edgeId)) throw new ProtocolError('stale', 'device weights already received');
      this.deviceAvgs.set(edgeId, checkWeights(m.tensors, tierWeightShapes(plan.model, 0, plan.c1)));
    } else if (m.tier === Tier.TIER_EDGE) {
      if (!this.flags.syncEdges) throw new ProtocolError('stale', `round ${this.round} does not aggregate edges`);
      if (this.edgeCopies.has(edgeId)) throw new ProtocolError('stale', 'edge weights already received');
      this.edgeCopies.set(edgeId, checkWeights(m.tensors, tierWeightShapes(plan.model, plan.c1, plan.c2)));
    } else {
      throw new ProtocolError('bad_shape', 'edges upload device or edge tier weights only');
    }
  }

  /** An edge left (disconnected or replaced): it releases whatever the round waited for from it. */
  drop(edgeId: string): void {
    this.barrier.drop(edgeId);
    this.progress();
  }

  /**
   * Abandons the round (the coordinator is closing): nothing is averaged or
   * sent, and `done` rejects; the run resumes from its last checkpoint.
   */
  abort(why: string): void {
    if (this.barrier.phase === 'done') return;
    this.deadline.clear();
    this.barrier.finish();
    this.reject(new Error(`round ${this.round} abandoned: ${why}`));
  }

  private progress(): void {
    if (this.barrier.collectReady) this.train();
    if (this.barrier.downReady) this.finish();
  }

  private train(): void {
    const { plan, top } = this.c;
    this.waitMs += performance.now() - this.phaseStartedAt;
    const parts = this.barrier.closeCollect('down').map((d) => d.payload);
    if (parts.length === 0) {
      this.barrier.beginDown();
      return;
    }
    const t0 = performance.now();
    const batch = concatSlices(parts);
    const out = top.trainTop(batch.x, batch.y, batch.n, plan.lr, true);
    this.loss = out.lossSum;
    this.correct = out.correct;
    this.samples = batch.n;
    this.participants = parts.reduce((a, p) => a + p.devices, 0);
    this.computeMs += performance.now() - t0;
    this.phaseStartedAt = performance.now();
    const grads = splitBySlices(out.dx!, top.inPerSample, batch.slices);
    const header = headerFor(plan, this.round, 'cloud');
    const codec = codecName(plan.codec);
    const sizes = new Map(batch.slices.map((x) => [x.id, x.n]));
    for (const id of this.barrier.beginDown()) {
      const n = sizes.get(id)!;
      this.sent.set(id, n);
      this.c.send(id, EVENTS.gradients, { header, gradients: encodeTensor(grads.get(id)!, [n, ...top.inputShape()], codec) });
    }
    this.armDeadline();
  }

  private finish(): void {
    if (this.barrier.phase === 'done') return;
    this.deadline.clear();
    if (this.barrier.phase === 'down') this.waitMs += performance.now() - this.phaseStartedAt;
    this.barrier.finish();
    const t0 = performance.now();
    const averages = this.aggregate();
    this.computeMs += performance.now() - t0;
    const gradSq: RoundOutcome['gradSq'] = [];
    if (this.samples > 0) {
      for (const d of this.barrier.reports.values()) gradSq.push({ start: d.gradSqStart, values: d.gradSq });
      gradSq.push({ start: this.c.plan.c2, values: this.c.top.lastUnitGradSq });
    }
    if (this.barrier.late.size) this.c.warn('deadline', `round ${this.round}: edges ${[...this.barrier.late].join(', ')} missed the round`);
    this.resolve({ result: this.metrics(), ...averages, gradSq });
  }

  /**
   * Averages the tiers this round syncs over the edges that finished it,
   * weighted by the samples the cloud saw from each since that tier's last
   * sync, and sends every connected edge the new averages.
   */
  private aggregate(): Pick<RoundOutcome, 'deviceAvg' | 'edgeAvg'> {
    const { plan, deviceSamples, edgeSamples } = this.c;
    // Only edges that finished the round count: their samples were seen, their copies stepped.
    for (const id of this.barrier.reports.keys()) {
      const n = this.sent.get(id) ?? 0;
      deviceSamples.add(id, n);
      edgeSamples.add(id, n);
    }
    const aggregator = aggregatorFor(plan.aggregator);
    const header = headerFor(plan, this.round, 'cloud');
    const average = (tier: Tier, uploads: Map<string, Float32Array[]>, ledger: SampleLedger, start: number, end: number) => {
      const copies = [...uploads].filter(([id]) => this.barrier.reports.has(id)).map(([id, weights]) => ({ weights, samples: ledger.of(id) })).filter((x) => x.samples > 0);
      ledger.reset();
      if (copies.length === 0) return undefined;
      const avg = aggregator.combine(copies);
      const shapes = tierWeightShapes(plan.model, start, end);
      const samples = copies.reduce((a, x) => a + x.samples, 0);
      this.c.broadcast(EVENTS.weightsDown, { header, tier, tensors: avg.map((w, i) => encodeTensor(w, shapes[i]!)), samples });
      return avg;
    };
    return {
      deviceAvg: this.flags.syncDevices ? average(Tier.TIER_DEVICE, this.deviceAvgs, deviceSamples, 0, plan.c1) : undefined,
      edgeAvg: this.flags.syncEdges ? average(Tier.TIER_EDGE, this.edgeCopies, edgeSamples, plan.c1, plan.c2) : undefined,
    };
  }

  /** The round's row of metrics, from the cloud's own figures and its edges' reports. */
  private metrics(): RoundResult {
    const reports = [...this.barrier.reports.values(), ...this.sitOutReports.values()];
    const late = new Set<string>();
    for (const d of reports) for (const id of d.late) late.add(id);
    return {
      round: this.round,
      samples: this.samples,
      loss: this.samples ? this.loss / this.samples : 0,
      trainAccuracy: this.samples ? this.correct / this.samples : 0,
      roundMs: performance.now() - this.startedAt,
      deviceComputeMs: reports.reduce((x, d) => Math.max(x, d.maxChildComputeMs), 0),
      edgeComputeMs: reports.reduce((x, d) => Math.max(x, d.computeMs), 0),
      cloudComputeMs: this.computeMs,
      edgeWaitMs: reports.reduce((x, d) => Math.max(x, d.waitMs), 0),
      cloudWaitMs: this.waitMs,
      bytesDeviceEdgeUp: reports.reduce((x, d) => x + d.bytesDownUp, 0),
      bytesEdgeDeviceDown: reports.reduce((x, d) => x + d.bytesDownDown, 0),
      bytesEdgeCloudUp: this.c.edgeBytes.bytesIn - this.bytesInAtStart,
      bytesCloudEdgeDown: this.c.edgeBytes.bytesOut - this.bytesOutAtStart,
      devices: this.participants,
      lateDevices: late.size,
      syncedDevices: this.flags.syncDevices,
      syncedEdges: this.flags.syncEdges,
    };
  }

  private armDeadline(): void {
    // The cloud waits longer than the edges so that an edge's own deadline
    // fires first and it can still report with the devices it has.
    this.deadline.arm((this.c.plan.deadlineMs || 30000) * 1.5, () => this.c.inMailbox(() => this.expire()));
  }

  /** The deadline passed (called inside the coordinator's mailbox). */
  expire(): void {
    if (this.barrier.phase === 'done') return;
    this.barrier.expire();
    this.progress();
  }
}
