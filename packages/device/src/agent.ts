import { EventEmitter } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import {
  EVENTS, Mailbox, Peer, ProtocolError, checkHeader, encodeTensor, expectTensor, checkWeights,
  MAX_MESSAGE_BYTES, MAX_DEVICES_PER_EDGE, Role, Tier, messageLimitFor, codecName, LinkProber,
  type LogLike, type MessageOf,
} from '@hsfl/protocol';
import { tf, SubModel, BatchIterator, modelInfo, modelSizes, measureCompute, type Dataset } from '@hsfl/runtime';

type Plan = NonNullable<MessageOf<typeof EVENTS.welcome>['plan']>;
type RoundStart = MessageOf<typeof EVENTS.roundStart>;

export interface DeviceOptions {
  id: string;
  edgeUrl: string;
  token: string;
  backend: string;
  host: string;
  /** This device's own training data: the whole data set and the indices it owns. */
  data: Dataset;
  indices: Int32Array;
  seed: number;
  log: LogLike;
  /** Called for progress display; optional. */
  onEvent?: (kind: string, detail: Record<string, unknown>) => void;
}

interface PendingRound {
  round: number;
  syncDevices: boolean;
  x: tf.Tensor;
  n: number;
  outShape: number[];
  computeMs: number;
}

/**
 * The device agent: holds units [0, c1) of the model and its own data,
 * trains them in step with its edge (DESIGN §2, steps 1 and 5).
 */
export class DeviceAgent extends EventEmitter {
  private socket?: Socket;
  private peer?: Peer;
  private readonly mailbox: Mailbox;
  private runId = '';
  private plan?: Plan;
  private sub?: SubModel;
  private batches?: BatchIterator;
  private pending?: PendingRound;
  private samplesSinceSync = 0;
  private lastRound = -1;
  roundsTrained = 0;
  private prober?: LinkProber;
  private measuring = false;
  /** Last capacity report sent, for inspection. */
  lastCapacity?: MessageOf<typeof EVENTS.capacityReport>;

  constructor(private readonly opts: DeviceOptions) {
    super();
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'device task failed'));
  }

  get weights(): Float32Array[] {
    return this.sub ? this.sub.getWeights() : [];
  }

  get currentPlan(): Plan | undefined {
    return this.plan;
  }

  start(): void {
    const socket = io(this.opts.edgeUrl, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 250,
      reconnectionDelayMax: 2000,
    });
    this.socket = socket;
    const peer = new Peer(socket, {
      name: 'edge',
      log: this.opts.log,
      mailbox: this.mailbox,
      maxBytes: () => this.messageLimit(),
    });
    this.peer = peer;
    this.prober = new LinkProber(socket);
    socket.on('connect', () => {
      this.opts.log.info({ edge: this.opts.edgeUrl }, 'connected to edge, joining');
      peer.send(EVENTS.hello, {
        nodeId: this.opts.id,
        role: Role.ROLE_DEVICE,
        token: this.opts.token,
        backend: this.opts.backend,
        numSamples: this.opts.indices.length,
        software: 'hsfl-device',
        host: this.opts.host,
      });
    });
    socket.on('disconnect', (reason) => {
      void this.mailbox.run(() => {
        this.opts.log.warn({ reason }, 'disconnected from edge');
        this.dropPending();
      });
    });
    socket.on('connect_error', (err) => this.opts.log.debug({ err: err.message }, 'edge not reachable yet'));
    peer.on(EVENTS.welcome, (m) => this.onWelcome(m));
    peer.on(EVENTS.roundStart, (m) => this.onRoundStart(m));
    peer.on(EVENTS.gradients, (m) => this.onGradients(m));
    peer.on(EVENTS.weightsDown, (m) => this.onWeightsDown(m));
    peer.on(EVENTS.runEnd, (m) => this.onRunEnd(m));
    peer.on(EVENTS.evalReport, (m) => {
      checkHeader(m.header!, { runId: this.runId, planVersion: this.requirePlan().version });
      this.opts.log.info({ round: m.header!.round, accuracy: m.accuracy, loss: m.loss }, 'global model scored');
      this.opts.onEvent?.('eval', { round: m.header!.round, accuracy: m.accuracy, loss: m.loss });
    });
    peer.on(EVENTS.capacityRequest, (m) => {
      modelInfo(m.model);
      if (!(m.batchSize >= 1 && m.batchSize <= 4096)) throw new ProtocolError('malformed', `bad batch size ${m.batchSize}`);
      void this.reportCapacity(m.model, m.batchSize, m.probeBytes || undefined);
    });
    // An error reply from the edge is information, never a reason to exit.
    peer.onErrorReply((e) => {
      this.opts.log.warn({ code: e.code, event: e.event, err: e.message }, 'edge refused a message');
      this.opts.onEvent?.('refused', { code: e.code, event: e.event });
    });
  }

  async stop(): Promise<void> {
    await this.mailbox.run(() => this.dropPending());
    this.socket?.disconnect();
    this.sub?.dispose();
    this.sub = undefined;
  }

  private onWelcome(m: MessageOf<typeof EVENTS.welcome>): Promise<void> | void {
    const plan = m.plan;
    if (!plan) throw new ProtocolError('malformed', 'welcome without a plan');
    const info = modelInfo(plan.model);
    if (plan.c1 > info.numUnits || plan.c2 > info.numUnits || plan.c1 > plan.c2) {
      throw new ProtocolError('bad_shape', `plan cuts (${plan.c1}, ${plan.c2}) do not fit ${plan.model}`);
    }
    const s = this.sub;
    const sub = !s || s.modelName !== plan.model || s.end !== plan.c1 ? SubModel.create(plan.model, 0, plan.c1, plan.seed) : s;
    sub.trackGradNorms = true;
    if (m.deviceWeights.length > 0) {
      try {
        sub.setWeights(checkWeights(m.deviceWeights, sub.weightShapes()));
      } catch (err) {
        if (sub !== s) sub.dispose();
        throw err;
      }
    }
    if (sub !== s) s?.dispose();
    this.sub = sub;
    if (!this.batches || this.plan?.batchSize !== plan.batchSize) {
      this.batches = new BatchIterator(this.opts.data, this.opts.indices, plan.batchSize, this.opts.seed);
    }
    const newRun = m.runId !== this.runId;
    this.runId = m.runId;
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
    if (newRun) return this.reportCapacity(plan.model, plan.batchSize);
  }

  /**
   * Measures this device (compute per unit, memory, the link to its edge)
   * and reports it. Runs outside the mailbox: the link probes need replies
   * while it waits.
   */
  async reportCapacity(model: string, batchSize: number, probeBytes?: number): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    try {
      const c = await measureCompute(model, batchSize);
      const link = await this.prober!.measure({ bytes: probeBytes });
      const report = {
        nodeId: this.opts.id, role: Role.ROLE_DEVICE, parentId: '', backend: this.opts.backend, host: this.opts.host, model, batchSize,
        fwdMsPerSample: c.fwdMsPerSample, bwdMsPerSample: c.bwdMsPerSample, peakBytes: c.peakBytes,
        memTotalBytes: c.memTotalBytes, memFreeBytes: c.memFreeBytes, cpus: c.cpus, measuredAtMs: Date.now(), ...link,
      };
      this.peer!.send(EVENTS.capacityReport, report);
      this.lastCapacity = report as MessageOf<typeof EVENTS.capacityReport>;
      this.opts.log.info({ rttMs: link.rttMs, upBytesPerSec: link.upBytesPerSec, downBytesPerSec: link.downBytesPerSec }, 'capacity measured and reported');
      this.opts.onEvent?.('capacity', { rttMs: link.rttMs });
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, 'capacity measurement failed');
    } finally {
      this.measuring = false;
    }
  }

  private onRoundStart(m: RoundStart): void {
    const plan = this.requirePlan();
    const h = m.header;
    if (!h) throw new ProtocolError('malformed', 'round start without header');
    checkHeader(h, { runId: this.runId, planVersion: plan.version });
    if (h.round <= this.lastRound) throw new ProtocolError('stale', `round ${h.round} already started (last ${this.lastRound})`);
    this.dropPending();
    this.lastRound = h.round;
    const sub = this.sub!;
    const batch = this.batches!.next();
    const inShape = sub.inputShape();
    const outShape = sub.outputShape();
    const t0 = performance.now();
    const x = tf.tensor(batch.x, [batch.n, ...inShape]);
    const y = sub.forward(x);
    const acts = y.dataSync() as Float32Array;
    if (y !== x) y.dispose();
    const computeMs = performance.now() - t0;
    this.pending = { round: h.round, syncDevices: m.syncDevices, x, n: batch.n, outShape, computeMs };
    this.peer!.send(EVENTS.activations, {
      header: { runId: this.runId, planVersion: plan.version, round: h.round, sender: this.opts.id },
      activations: encodeTensor(acts, [batch.n, ...outShape], codecName(plan.codec)),
      labels: encodeTensor(batch.y, [batch.n]),
      slices: [],
    });
  }

  private onGradients(m: MessageOf<typeof EVENTS.gradients>): void {
    const plan = this.requirePlan();
    const p = this.pending;
    const h = m.header;
    if (!h) throw new ProtocolError('malformed', 'gradients without header');
    checkHeader(h, { runId: this.runId, planVersion: plan.version, round: p?.round ?? -1 });
    if (!p) throw new ProtocolError('stale', `no activations outstanding for round ${h.round}`);
    const g = expectTensor(m.gradients, { shape: [p.n, ...p.outShape], dtype: 'float32', finite: true });
    this.pending = undefined;
    const t0 = performance.now();
    const sub = this.sub!;
    if (!sub.isEmpty) {
      const dy = tf.tensor(g.data, [p.n, ...p.outShape]);
      sub.backward(p.x, dy, p.n, plan.lr, false);
      dy.dispose();
    }
    p.x.dispose();
    const computeMs = p.computeMs + (performance.now() - t0);
    this.samplesSinceSync += p.n;
    this.roundsTrained += 1;
    const header = { runId: this.runId, planVersion: plan.version, round: p.round, sender: this.opts.id };
    if (p.syncDevices && !sub.isEmpty) {
      this.peer!.send(EVENTS.weightsUp, {
        header,
        tier: Tier.TIER_DEVICE,
        tensors: sub.getWeights().map((w, i) => encodeTensor(w, sub.weightShapes()[i]!)),
        samples: this.samplesSinceSync,
      });
    }
    this.peer!.send(EVENTS.roundDone, {
      header, samples: p.n, computeMs, maxChildComputeMs: 0, waitMs: 0, bytesDownUp: 0, bytesDownDown: 0, late: [],
      gradSqStart: 0, gradSq: sub.lastUnitGradSq ?? [],
    });
    this.opts.onEvent?.('round', { round: p.round, computeMs });
  }

  private onWeightsDown(m: MessageOf<typeof EVENTS.weightsDown>): void {
    const plan = this.requirePlan();
    if (!m.header) throw new ProtocolError('malformed', 'weights without header');
    checkHeader(m.header, { runId: this.runId, planVersion: plan.version });
    if (m.tier !== Tier.TIER_DEVICE) throw new ProtocolError('bad_shape', `a device holds no tier ${m.tier} weights`);
    const sub = this.sub!;
    const ws = checkWeights(m.tensors, sub.weightShapes());
    sub.setWeights(ws);
    this.samplesSinceSync = 0;
  }

  private onRunEnd(m: MessageOf<typeof EVENTS.runEnd>): void {
    if (m.runId !== this.runId) throw new ProtocolError('wrong_run', `run ${m.runId} is not this device's run`);
    this.opts.log.info({ runId: m.runId, reason: m.reason }, 'run ended; waiting for the next one');
    this.dropPending();
    this.plan = undefined;
    this.opts.onEvent?.('runEnd', { runId: m.runId, reason: m.reason });
    this.emit('runEnd', m.reason);
  }

  /** Largest message accepted: a Welcome can carry weights before the plan is known. */
  private messageLimit(): number {
    if (!this.plan) return MAX_MESSAGE_BYTES;
    return Math.min(MAX_MESSAGE_BYTES, messageLimitFor({ batchSize: this.plan.batchSize, devices: MAX_DEVICES_PER_EDGE, ...modelSizes(this.plan.model, this.plan) }));
  }

  private requirePlan(): Plan {
    if (!this.plan || !this.sub) throw new ProtocolError('not_joined', 'no plan yet: waiting for welcome');
    return this.plan;
  }

  private dropPending(): void {
    this.pending?.x.dispose();
    this.pending = undefined;
  }
}
