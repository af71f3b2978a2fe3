import { io, type Socket } from 'socket.io-client';
import {
  EVENTS, Mailbox, Peer, ProtocolError, checkHeader, encodeTensor, expectTensor, checkWeights,
  MAX_MESSAGE_BYTES, MAX_DEVICES_PER_EDGE, Role, Tier, messageLimitFor,
  type LogLike, type MessageOf,
} from '@hsfl/protocol';
import { tf, SubModel, BatchIterator, modelInfo, modelSizes, type Dataset } from '@hsfl/runtime';

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
export class DeviceAgent {
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
  private ended = false;
  roundsTrained = 0;
  private endResolve?: (reason: string) => void;
  readonly finished: Promise<string>;

  constructor(private readonly opts: DeviceOptions) {
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'device task failed'));
    this.finished = new Promise((resolve) => (this.endResolve = resolve));
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
    peer.on(EVENTS.runEnd, (m) => this.onRunEnd(m.reason));
    // An error reply from the edge is information, never a reason to exit.
    peer.onErrorReply((e) => {
      this.opts.log.warn({ code: e.code, event: e.event, err: e.message }, 'edge refused a message');
      this.opts.onEvent?.('refused', { code: e.code, event: e.event });
    });
  }

  async stop(): Promise<void> {
    this.ended = true;
    await this.mailbox.run(() => this.dropPending());
    this.socket?.disconnect();
    this.sub?.dispose();
    this.sub = undefined;
    this.endResolve?.('stopped');
  }

  private onWelcome(m: MessageOf<typeof EVENTS.welcome>): void {
    const plan = m.plan;
    if (!plan) throw new ProtocolError('malformed', 'welcome without a plan');
    const info = modelInfo(plan.model);
    if (plan.c1 > info.numUnits || plan.c2 > info.numUnits || plan.c1 > plan.c2) {
      throw new ProtocolError('bad_shape', `plan cuts (${plan.c1}, ${plan.c2}) do not fit ${plan.model}`);
    }
    const sameModel = this.sub && this.plan && this.plan.model === plan.model && this.plan.c1 === plan.c1 && this.plan.seed === plan.seed;
    if (!sameModel) {
      this.sub?.dispose();
      this.sub = SubModel.create(plan.model, 0, plan.c1, plan.seed);
    }
    const sub = this.sub!;
    if (m.deviceWeights.length > 0) {
      const ws = checkWeights(m.deviceWeights, sub.weightShapes());
      sub.setWeights(ws);
    }
    if (!this.batches || this.plan?.batchSize !== plan.batchSize) {
      this.batches = new BatchIterator(this.opts.data, this.opts.indices, plan.batchSize, this.opts.seed);
    }
    this.runId = m.runId;
    this.plan = plan;
    this.samplesSinceSync = 0;
    this.dropPending();
    this.opts.log.info({ runId: m.runId, c1: plan.c1, c2: plan.c2, i1: plan.i1, batch: plan.batchSize, nextRound: m.nextRound }, 'joined run');
    this.opts.onEvent?.('joined', { runId: m.runId });
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

  private onRunEnd(reason: string): void {
    this.opts.log.info({ reason }, 'run ended');
    this.ended = true;
    this.dropPending();
    this.endResolve?.(reason);
  }

  /** Largest message accepted: a Welcome can carry weights before the plan is known. */
  private messageLimit(): number {
    if (!this.plan) return MAX_MESSAGE_BYTES;
    return Math.min(MAX_MESSAGE_BYTES, messageLimitFor({ batchSize: this.plan.batchSize, devices: MAX_DEVICES_PER_EDGE, ...modelSizes(this.plan.model) }));
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

export function codecName(codec: number): 'raw' | 'fp16' | 'int8' {
  return codec === 1 ? 'fp16' : codec === 2 ? 'int8' : 'raw';
}

