import { EventEmitter } from 'node:events';
import {
  EVENTS, Mailbox, ProtocolError, checkHeader, encodeTensor, expectTensor, checkWeights,
  MAX_MESSAGE_BYTES, Role, Tier, codecName,
  type LogLike, type MessageOf, type Plan,
} from '@hsfl/protocol';
import type { Batch, Dataset } from '@hsfl/runtime';
import {
  ParentLink, TierModel, CapacityReporter, checkPlan, checkCapacityRequest, planMessageLimit, headerFor, clientTlsOptions, type NodeBundle,
} from '@hsfl/tier-engine';
import { memoryBatchSource, type BatchSource, type BatchStream } from './batch-source.js';

export * from './batch-source.js';

export interface DeviceBaseOptions {
  id: string;
  edgeUrl: string;
  /** The shared join token (insecure mode, no bundle). */
  token?: string;
  /** The device's enrollment bundle: TLS to its edge, and the certificate that proves its id. */
  bundle?: NodeBundle;
  backend: string;
  host: string;
  /** Seeds the shuffle of the in-memory data (`data` + `indices`); a `source` brings its own. */
  seed: number;
  log: LogLike;
  /** Called for progress display; optional. */
  onEvent?: (kind: string, detail: Record<string, unknown>) => void;
}

/**
 * This device's own training data: either a data set in memory and the indices it owns, or any
 * BatchSource (e.g. streamingBatchSource over the device's files on disk).
 */
export type DeviceDataOptions =
  | { data: Dataset; indices: Int32Array; source?: never }
  | { source: BatchSource; data?: never; indices?: never };

export type DeviceOptions = DeviceBaseOptions & DeviceDataOptions;

interface PendingRound {
  round: number;
  syncDevices: boolean;
  n: number;
  computeMs: number;
}

/**
 * The device agent: holds units [0, c1) of the model and its own data, and
 * trains them in step with its edge (DESIGN §2, steps 1 and 5): the tier
 * engine's parent link plus one tier step.
 *
 * Events: 'runEnd' (reason), 'gone' (reason) when the edge sent it away for good, 'dataError' (err)
 * when its batch source fails (e.g. every sample of a data set on disk turned out unreadable).
 */
export class DeviceAgent extends EventEmitter {
  private link?: ParentLink;
  private capacity?: CapacityReporter;
  private readonly mailbox: Mailbox;
  private plan?: Plan;
  private model?: TierModel;
  private readonly source: BatchSource;
  private batches?: BatchStream;
  private pending?: PendingRound;
  private samplesSinceSync = 0;
  private lastRound = -1;
  roundsTrained = 0;

  constructor(private readonly opts: DeviceOptions) {
    super();
    this.source = opts.source ?? memoryBatchSource(opts.data, opts.indices, opts.seed);
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'device task failed'));
  }

  get weights(): Float32Array[] {
    return this.model ? this.model.getWeights() : [];
  }

  get currentPlan(): Plan | undefined {
    return this.plan;
  }

  /** What the device is doing, for a shutdown message. */
  get activity(): string {
    if (this.pending) return `round ${this.pending.round} of run ${this.plan?.runId}`;
    return this.plan ? `run ${this.plan.runId} between rounds` : 'no run';
  }

  start(): void {
    const o = this.opts;
    if (!o.bundle && o.token === undefined) throw new Error('a device needs its enrollment bundle (TLS) or, insecure, a join token');
    if (o.bundle && o.bundle.id !== o.id) throw new Error(`the bundle is for ${o.bundle.id}, not ${o.id}`);
    const link = new ParentLink({
      url: o.edgeUrl, parentName: 'edge', log: o.log, mailbox: this.mailbox,
      // A Welcome can carry weights before the plan is known.
      maxBytes: () => planMessageLimit(this.plan, MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES),
      hello: () => ({ nodeId: o.id, role: Role.ROLE_DEVICE, token: o.token ?? '', backend: o.backend, numSamples: this.source.size, software: 'hsfl-device', host: o.host,
        sampleShape: [...this.source.sampleShape], numClasses: this.source.numClasses }),
      tls: o.bundle && clientTlsOptions(o.bundle, { role: 'edge', id: o.bundle.edge }),
    });
    this.link = link;
    this.capacity = new CapacityReporter({
      nodeId: o.id, role: Role.ROLE_DEVICE, backend: o.backend, host: o.host, log: o.log, socket: link.socket,
      send: (r) => {
        const sent = link.send(EVENTS.capacityReport, r);
        if (sent) o.onEvent?.('capacity', { rttMs: r.rttMs });
        return sent;
      },
    });
    link.on('disconnected', () => void this.mailbox.run(() => this.dropPending()));
    link.on('gone', (reason: string) => {
      o.onEvent?.('gone', { reason });
      this.emit('gone', reason);
    });
    const peer = link.peer;
    peer.on(EVENTS.welcome, (m) => this.onWelcome(m));
    peer.on(EVENTS.roundStart, (m) => this.onRoundStart(m));
    peer.on(EVENTS.gradients, (m) => this.onGradients(m));
    peer.on(EVENTS.weightsDown, (m) => this.onWeightsDown(m));
    peer.on(EVENTS.runEnd, (m) => this.onRunEnd(m));
    peer.on(EVENTS.evalReport, (m) => {
      const plan = this.requirePlan();
      checkHeader(m.header, { runId: plan.runId, planVersion: plan.version });
      o.log.info({ round: m.header.round, accuracy: m.accuracy, loss: m.loss }, 'global model scored');
      o.onEvent?.('eval', { round: m.header.round, accuracy: m.accuracy, loss: m.loss });
    });
    peer.on(EVENTS.capacityRequest, (m) => {
      checkCapacityRequest(m);
      void this.capacity!.report(m.model, m.batchSize, m.probeBytes || undefined);
    });
    // An error reply from the edge is information, never a reason to exit.
    peer.onErrorReply((e) => o.onEvent?.('refused', { code: e.code, event: e.event }));
    link.start();
  }

  async stop(): Promise<void> {
    await this.mailbox.run(async () => {
      this.dropPending();
      await this.closeBatches();
    });
    this.link?.close();
    this.model?.dispose();
    this.model = undefined;
  }

  private async closeBatches(): Promise<void> {
    const old = this.batches;
    this.batches = undefined;
    await old?.close?.();
  }

  private async onWelcome(m: MessageOf<typeof EVENTS.welcome>): Promise<void> {
    const plan = checkPlan(m.plan);
    if (plan.runId !== m.runId) throw new ProtocolError('malformed', 'the plan belongs to another run');
    const old = this.model;
    const model = old && old.holds(plan.model, 0, plan.c1) ? old : TierModel.create(plan.model, 0, plan.c1, plan.seed);
    if (m.deviceWeights.length > 0) {
      try {
        model.setWeights(checkWeights(m.deviceWeights, model.weightShapes()));
      } catch (err) {
        if (model !== old) model.dispose();
        throw err;
      }
    }
    if (model !== old) old?.dispose();
    this.model = model;
    // A new run (no plan since the last ended) or another batch size starts a fresh stream.
    if (!this.batches || this.plan?.batchSize !== plan.batchSize) {
      await this.closeBatches();
      this.batches = this.source.batches(plan.batchSize);
    }
    const newRun = m.runId !== this.plan?.runId;
    this.plan = plan;
    this.samplesSinceSync = 0;
    this.lastRound = m.nextRound - 1;
    this.dropPending();
    this.opts.log.info({ runId: m.runId, plan: plan.version, c1: plan.c1, c2: plan.c2, i1: plan.i1, batch: plan.batchSize, nextRound: m.nextRound }, newRun ? 'joined run' : 'plan changed');
    this.opts.onEvent?.(newRun ? 'joined' : 'plan', { runId: m.runId, plan: plan.version, c1: plan.c1 });
    // On joining a run the mailbox waits for the measurement, so this device
    // takes part in no round meanwhile: probes sharing the link with round
    // traffic (and a profile sharing the CPU with training) measure the
    // contention, not the node (docs/planner.md, "Measured in the lab").
    if (newRun) await this.capacity!.report(plan.model, plan.batchSize);
  }

  private onRoundStart(m: MessageOf<typeof EVENTS.roundStart>): Promise<void> | void {
    const plan = this.requirePlan();
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version });
    const round = m.header.round;
    if (round <= this.lastRound) throw new ProtocolError('stale', `round ${round} already started (last ${this.lastRound})`);
    this.dropPending();
    this.lastRound = round;
    // In memory the batch is at hand and the round goes on synchronously; from disk it may still be
    // being read. Either way the mailbox holds every other message until the activations are sent.
    const next = this.batches!.next();
    if (next instanceof Promise) {
      return next.then(
        (batch) => this.sendActivations(plan, round, m.syncDevices, batch),
        (err: unknown) => {
          this.emit('dataError', err);
          throw err;
        },
      );
    }
    this.sendActivations(plan, round, m.syncDevices, next);
  }

  private sendActivations(plan: Plan, round: number, syncDevices: boolean, batch: Batch): void {
    const model = this.model!;
    const t0 = performance.now();
    const acts = model.forward(batch.x, batch.n);
    this.pending = { round, syncDevices, n: batch.n, computeMs: performance.now() - t0 };
    this.link!.send(EVENTS.activations, {
      header: headerFor(plan, round, this.opts.id),
      activations: encodeTensor(acts, [batch.n, ...model.outputShape()], codecName(plan.codec)),
      labels: encodeTensor(batch.y, [batch.n]),
      slices: [],
    });
  }

  private onGradients(m: MessageOf<typeof EVENTS.gradients>): void {
    const plan = this.requirePlan();
    const p = this.pending;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: p?.round ?? -1 });
    if (!p) throw new ProtocolError('stale', `no activations outstanding for round ${m.header.round}`);
    const model = this.model!;
    const g = expectTensor(m.gradients, { shape: [p.n, ...model.outputShape()], dtype: 'float32', finite: true });
    this.pending = undefined;
    const t0 = performance.now();
    if (!model.isEmpty) model.backward(g.data, plan.lr, false);
    else model.discard();
    const computeMs = p.computeMs + (performance.now() - t0);
    this.samplesSinceSync += p.n;
    this.roundsTrained += 1;
    const header = headerFor(plan, p.round, this.opts.id);
    if (p.syncDevices && !model.isEmpty) {
      const shapes = model.weightShapes();
      this.link!.send(EVENTS.weightsUp, {
        header, tier: Tier.TIER_DEVICE, tensors: model.getWeights().map((w, i) => encodeTensor(w, shapes[i]!)), samples: this.samplesSinceSync,
      });
    }
    this.link!.send(EVENTS.roundDone, {
      header, samples: p.n, computeMs, maxChildComputeMs: 0, waitMs: 0, bytesDownUp: 0, bytesDownDown: 0, late: [],
      gradSqStart: 0, gradSq: model.lastUnitGradSq,
    });
    this.opts.onEvent?.('round', { round: p.round, computeMs });
  }

  private onWeightsDown(m: MessageOf<typeof EVENTS.weightsDown>): void {
    const plan = this.requirePlan();
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version });
    if (m.tier !== Tier.TIER_DEVICE) throw new ProtocolError('bad_shape', `a device holds no tier ${m.tier} weights`);
    const model = this.model!;
    model.setWeights(checkWeights(m.tensors, model.weightShapes()));
    this.samplesSinceSync = 0;
  }

  private onRunEnd(m: MessageOf<typeof EVENTS.runEnd>): void {
    if (m.runId !== this.plan?.runId) throw new ProtocolError('wrong_run', `run ${m.runId} is not this device's run`);
    this.opts.log.info({ runId: m.runId, reason: m.reason }, 'run ended; waiting for the next one');
    this.dropPending();
    this.plan = undefined;
    this.opts.onEvent?.('runEnd', { runId: m.runId, reason: m.reason });
    this.emit('runEnd', m.reason);
  }

  private requirePlan(): Plan {
    if (!this.plan || !this.model) throw new ProtocolError('not_joined', 'no plan yet: waiting for welcome');
    return this.plan;
  }

  private dropPending(): void {
    this.model?.discard();
    this.pending = undefined;
  }
}
