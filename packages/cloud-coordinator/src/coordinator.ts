import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import {
  EVENTS, Mailbox, Peer, ProtocolError, checkHeader, checkLabels, checkWeights, encodeTensor, expectTensor,
  MAX_MESSAGE_BYTES, MAX_DEVICES_PER_EDGE, Role, Tier, messageLimitFor, codecValue,
  type LogLike, type MessageOf,
} from '@hsfl/protocol';
import {
  tf, SubModel, fedAvg, modelInfo, assembleWeights, evaluate, exportCheckpoint, modelSizes, tierWeightShapes, type Dataset,
} from '@hsfl/runtime';
import type { Store } from './store/index.js';
import type { TrialConfig } from './config.js';

type Plan = NonNullable<MessageOf<typeof EVENTS.welcome>['plan']>;

export interface CoordinatorOptions {
  bindHost: string;
  port: number;
  token: string;
  store: Store;
  trial: TrialConfig;
  /** Held-out data the assembled model is scored on. */
  testData: Dataset;
  log: LogLike;
  backend: string;
  maxBytes?: number;
}

interface EdgeLink {
  id: string;
  socket: ServerSocket;
  peer: Peer;
  host: string;
  backend: string;
  devices: Map<string, { backend: string; samples: number; host: string }>;
}

interface CloudRound {
  round: number;
  syncDevices: boolean;
  syncEdges: boolean;
  phase: 'collect' | 'down' | 'done';
  startedAt: number;
  phaseStartedAt: number;
  expected: Set<string>;
  acts: Map<string, { data: Float32Array; labels: Int32Array; n: number; slices: number }>;
  satOut: Set<string>;
  slices: { id: string; n: number }[];
  awaitingDone: Set<string>;
  done: Map<string, MessageOf<typeof EVENTS.roundDone>>;
  deviceAvgs: Map<string, { ws: Float32Array[]; samples: number }>;
  edgeCopies: Map<string, { ws: Float32Array[]; samples: number }>;
  loss: number;
  correct: number;
  samples: number;
  participants: number;
  computeMs: number;
  waitMs: number;
  bytesInAtStart: number;
  bytesOutAtStart: number;
  timer?: NodeJS.Timeout;
  resolve: (m: RoundResult) => void;
}

export interface RoundResult {
  round: number;
  samples: number;
  loss: number;
  trainAccuracy: number;
  roundMs: number;
  deviceComputeMs: number;
  edgeComputeMs: number;
  cloudComputeMs: number;
  edgeWaitMs: number;
  cloudWaitMs: number;
  bytesDeviceEdgeUp: number;
  bytesEdgeDeviceDown: number;
  bytesEdgeCloudUp: number;
  bytesCloudEdgeDown: number;
  devices: number;
  lateDevices: number;
  syncedDevices: boolean;
  syncedEdges: boolean;
}

export interface RunSummary {
  runId: string;
  status: 'completed' | 'stopped' | 'failed';
  rounds: number;
  testAccuracy: number;
  testLoss: number;
  plan: Plan;
  dbPath: string;
  wallMs: number;
}

/**
 * The cloud coordinator: holds units [c2, L), drives synchronous rounds,
 * computes the loss, aggregates the lower tiers, scores the assembled
 * model and records everything in the store (DESIGN §2 step 3, §6).
 *
 * Events: 'node' (topology change), 'round' (RoundResult & test metrics),
 * 'status' (run status), 'eval'.
 */
export class Coordinator extends EventEmitter {
  private http?: HttpServer;
  private server?: Server;
  private readonly mailbox: Mailbox;
  private readonly edges = new Map<string, EdgeLink>();
  private readonly edgeBytes = { bytesIn: 0, bytesOut: 0 };
  readonly runId: string;
  readonly plan: Plan;
  private readonly top: SubModel;
  private deviceAvg: Float32Array[];
  private edgeAvg: Float32Array[];
  private round?: CloudRound;
  private nextRound = 0;
  private paused = false;
  private stopRequested = false;
  private wake?: () => void;
  port = 0;

  constructor(private readonly opts: CoordinatorOptions) {
    super();
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'coordinator task failed'));
    const t = opts.trial;
    const info = modelInfo(t.model);
    if (!(0 <= t.c1 && t.c1 <= t.c2 && t.c2 <= info.numUnits)) {
      throw new Error(`cuts must satisfy 0 <= c1 <= c2 <= ${info.numUnits} for ${t.model}; got c1=${t.c1}, c2=${t.c2}`);
    }
    const run = opts.store.createRun({ name: t.name, config: t });
    this.runId = run.id;
    this.plan = {
      runId: run.id, version: 1, model: t.model, c1: t.c1, c2: t.c2, i1: t.i1, i2: t.i2, batchSize: t.batchSize,
      lr: t.lr, rounds: t.rounds, evalEvery: t.evalEvery, codec: codecValue(t.codec), seed: t.seed, deadlineMs: t.deadlineMs,
    };
    opts.store.addPlan({ runId: run.id, version: 1, plan: this.plan, prediction: null, reason: 'configured' });
    this.top = SubModel.create(t.model, t.c2, info.numUnits, t.seed);
    const dev = SubModel.create(t.model, 0, t.c1, t.seed);
    const edge = SubModel.create(t.model, t.c1, t.c2, t.seed);
    this.deviceAvg = dev.getWeights();
    this.edgeAvg = edge.getWeights();
    dev.dispose();
    edge.dispose();
    this.event('info', 'run_created', `run ${run.id} created`, null, { plan: this.plan });
  }

  get dbPath(): string {
    return this.opts.store.path;
  }

  /** The weights of the assembled global model (latest aggregates + the cloud's top). */
  globalWeights(): Float32Array[] {
    return assembleWeights(this.plan.model, this.plan.c1, this.plan.c2, this.deviceAvg, this.edgeAvg, this.top.getWeights());
  }

  topology(): { edges: { id: string; devices: string[] }[] } {
    return { edges: [...this.edges.values()].map((e) => ({ id: e.id, devices: [...e.devices.keys()].sort() })).sort((a, b) => a.id.localeCompare(b.id)) };
  }

  deviceCount(): number {
    let n = 0;
    for (const e of this.edges.values()) n += e.devices.size;
    return n;
  }

  async start(): Promise<number> {
    this.http = createServer();
    this.server = new Server(this.http, {
      maxHttpBufferSize: this.opts.maxBytes ?? MAX_MESSAGE_BYTES,
      serveClient: false,
      pingInterval: 5000,
      pingTimeout: 10000,
    });
    this.server.on('connection', (socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(this.opts.port, this.opts.bindHost, () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.opts.log.info({ port: this.port, host: this.opts.bindHost, runId: this.runId }, 'coordinator listening');
    return this.port;
  }

  /** Trains the run to its end (or until stopped) and returns the outcome. */
  async run(): Promise<RunSummary> {
    const t0 = Date.now();
    const t = this.opts.trial;
    try {
      await this.waitForFleet();
      this.opts.store.setRunStatus(this.runId, 'running');
      this.opts.store.markPlanApplied(this.runId, 1, 0);
      this.emit('status', 'running');
      this.event('info', 'run_started', `training started with ${this.edges.size} edges and ${this.deviceCount()} devices`);
      let lastTest: { loss: number; accuracy: number } | undefined;
      for (let r = this.nextRound; r < t.rounds && !this.stopRequested; r++) {
        await this.waitUntilRunnable();
        if (this.stopRequested) break;
        const last = r === t.rounds - 1;
        const res = await this.runRound(r, last || (r + 1) % t.i1 === 0, last || (r + 1) % t.i2 === 0);
        this.nextRound = r + 1;
        let test: { loss: number; accuracy: number } | undefined;
        if (last || (t.evalEvery > 0 && (r + 1) % t.evalEvery === 0)) {
          test = this.evaluate();
          lastTest = test;
        }
        this.opts.store.addRoundMetrics(this.runId, {
          ...res, planVersion: this.plan.version, testAccuracy: test?.accuracy ?? null, testLoss: test?.loss ?? null, endedAt: Date.now(),
        });
        this.emit('round', { ...res, testAccuracy: test?.accuracy, testLoss: test?.loss, wallMs: Date.now() - t0 });
        if (t.targetAccuracy && test && test.accuracy >= t.targetAccuracy) {
          this.event('info', 'target_reached', `test accuracy ${test.accuracy.toFixed(4)} reached the target ${t.targetAccuracy} at round ${r}`);
          break;
        }
      }
      // The final model must be a true aggregate even when the run ends early.
      if (!lastTest || this.stopRequested) lastTest = this.evaluate();
      const status = this.stopRequested ? 'stopped' : 'completed';
      this.saveFinal(lastTest.accuracy);
      this.opts.store.setRunStatus(this.runId, status, { finalAccuracy: lastTest.accuracy, finalLoss: lastTest.loss });
      this.event('info', 'run_finished', `run ${status}: test accuracy ${lastTest.accuracy.toFixed(4)}`);
      this.broadcastEnd(status);
      this.emit('status', status);
      return { runId: this.runId, status, rounds: this.nextRound, testAccuracy: lastTest.accuracy, testLoss: lastTest.loss, plan: this.plan, dbPath: this.dbPath, wallMs: Date.now() - t0 };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.store.setRunStatus(this.runId, 'failed', { error: message });
      this.event('error', 'run_failed', message);
      this.broadcastEnd('failed');
      this.emit('status', 'failed');
      throw err;
    }
  }

  pause(): void {
    this.paused = true;
    this.opts.store.setRunStatus(this.runId, 'paused');
    this.event('info', 'paused', 'run paused');
    this.emit('status', 'paused');
  }

  resume(): void {
    this.paused = false;
    this.opts.store.setRunStatus(this.runId, 'running');
    this.event('info', 'resumed', 'run resumed');
    this.emit('status', 'running');
    this.wake?.();
  }

  requestStop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  async close(): Promise<void> {
    this.stopRequested = true;
    this.wake?.();
    await this.mailbox.run(() => this.abortRound());
    this.server?.disconnectSockets(true);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.top.dispose();
  }

  // ---- connections --------------------------------------------------------

  private onConnection(socket: ServerSocket): void {
    let link: EdgeLink | undefined;
    const peer = new Peer(socket, {
      name: `edge@${socket.handshake.address}`, log: this.opts.log, mailbox: this.mailbox,
      maxBytes: () => this.messageLimit(), totals: this.edgeBytes,
    });
    peer.onErrorReply((e) => this.opts.log.warn({ edge: link?.id, code: e.code, err: e.message }, 'edge reported an error'));
    peer.on(EVENTS.hello, (m) => {
      if (m.token !== this.opts.token) {
        this.event('warn', 'auth_failed', `wrong join token from ${m.nodeId || 'unknown'} at ${socket.handshake.address}`, m.nodeId || null);
        setTimeout(() => socket.disconnect(true), 200);
        throw new ProtocolError('unauthorized', 'wrong join token');
      }
      if (m.role !== Role.ROLE_EDGE) throw new ProtocolError('malformed', 'only edge aggregators join the cloud');
      if (!/^[A-Za-z0-9._:-]{1,64}$/.test(m.nodeId)) throw new ProtocolError('malformed', 'node id must be 1-64 characters of [A-Za-z0-9._:-]');
      if (link) throw new ProtocolError('malformed', 'already joined on this connection');
      const previous = this.edges.get(m.nodeId);
      if (previous) {
        this.dropEdge(previous, 'replaced by a new connection');
        previous.socket.disconnect(true);
      }
      link = { id: m.nodeId, socket, peer, host: m.host, backend: m.backend, devices: new Map() };
      this.edges.set(link.id, link);
      this.opts.store.upsertNode({ runId: this.runId, nodeId: link.id, role: 'edge', parentId: 'cloud', backend: m.backend, host: m.host, status: 'connected', samples: null });
      this.event('info', 'node_joined', `edge ${link.id} joined`, link.id);
      peer.send(EVENTS.welcome, {
        runId: this.runId, plan: this.plan, nextRound: this.nextRound, parentId: 'cloud',
        deviceWeights: this.encodeTier(this.deviceAvg, 0, this.plan.c1),
        edgeWeights: this.encodeTier(this.edgeAvg, this.plan.c1, this.plan.c2),
      });
      this.emit('node', this.topology());
      this.wake?.();
    });
    peer.on(EVENTS.nodeStatus, (m) => this.onNodeStatus(this.joined(link), m));
    peer.on(EVENTS.activations, (m) => this.onActivations(this.joined(link), m));
    peer.on(EVENTS.weightsUp, (m) => this.onWeightsUp(this.joined(link), m));
    peer.on(EVENTS.roundDone, (m) => this.onRoundDone(this.joined(link), m));
    socket.on('disconnect', (reason) => {
      void this.mailbox.run(() => {
        if (link && this.edges.get(link.id) === link) this.dropEdge(link, reason);
      });
    });
  }

  private joined(link: EdgeLink | undefined): EdgeLink {
    if (!link || this.edges.get(link.id) !== link) throw new ProtocolError('not_joined', 'send hello first');
    return link;
  }

  private dropEdge(link: EdgeLink, reason: string): void {
    this.edges.delete(link.id);
    this.opts.store.setNodeStatus(this.runId, link.id, 'disconnected');
    for (const id of link.devices.keys()) this.opts.store.setNodeStatus(this.runId, id, 'disconnected');
    this.event('warn', 'node_left', `edge ${link.id} left: ${reason}`, link.id);
    this.emit('node', this.topology());
    const r = this.round;
    if (!r || r.phase === 'done') return;
    r.expected.delete(link.id);
    r.awaitingDone.delete(link.id);
    if (r.phase === 'collect') this.maybeCompute(r);
    else if (r.awaitingDone.size === 0) this.finishRound(r);
  }

  private onNodeStatus(link: EdgeLink, m: MessageOf<typeof EVENTS.nodeStatus>): void {
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(m.nodeId)) throw new ProtocolError('malformed', 'bad node id');
    if (m.connected) {
      link.devices.set(m.nodeId, { backend: m.backend, samples: m.numSamples, host: m.host });
      this.opts.store.upsertNode({ runId: this.runId, nodeId: m.nodeId, role: 'device', parentId: link.id, backend: m.backend, host: m.host, status: 'connected', samples: m.numSamples });
      this.event('info', 'node_joined', `device ${m.nodeId} joined edge ${link.id}`, m.nodeId);
    } else {
      link.devices.delete(m.nodeId);
      this.opts.store.setNodeStatus(this.runId, m.nodeId, 'disconnected');
      this.event('warn', 'node_left', `device ${m.nodeId} left edge ${link.id}: ${m.reason}`, m.nodeId);
    }
    this.emit('node', this.topology());
    this.wake?.();
  }

  // ---- rounds -------------------------------------------------------------

  private async waitForFleet(): Promise<void> {
    const t = this.opts.trial;
    const deadline = Date.now() + t.joinTimeoutMs;
    while (this.edges.size < t.minEdges || this.deviceCount() < t.minDevices) {
      if (this.stopRequested) throw new Error('stopped before the fleet assembled');
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`only ${this.edges.size}/${t.minEdges} edges and ${this.deviceCount()}/${t.minDevices} devices joined within ${t.joinTimeoutMs} ms`);
      }
      await this.sleepUntilWoken(left);
    }
  }

  private async waitUntilRunnable(): Promise<void> {
    while (!this.stopRequested && (this.paused || this.deviceCount() === 0)) {
      await this.sleepUntilWoken(1000);
    }
  }

  private sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  private runRound(round: number, syncDevices: boolean, syncEdges: boolean): Promise<RoundResult> {
    return new Promise<RoundResult>((resolve) => {
      void this.mailbox.run(() => {
        const now = performance.now();
        const r: CloudRound = {
          round, syncDevices, syncEdges, phase: 'collect', startedAt: now, phaseStartedAt: now,
          expected: new Set(this.edges.keys()), acts: new Map(), satOut: new Set(), slices: [], awaitingDone: new Set(),
          done: new Map(), deviceAvgs: new Map(), edgeCopies: new Map(), loss: 0, correct: 0, samples: 0, participants: 0, computeMs: 0, waitMs: 0,
          bytesInAtStart: this.edgeBytes.bytesIn, bytesOutAtStart: this.edgeBytes.bytesOut, resolve,
        };
        this.round = r;
        for (const id of r.expected) {
          this.edges.get(id)!.peer.send(EVENTS.roundStart, { header: this.header(round), syncDevices, syncEdges });
        }
        if (r.expected.size === 0) {
          this.finishRound(r);
          return;
        }
        this.armDeadline(r);
      });
    });
  }

  private onActivations(link: EdgeLink, m: MessageOf<typeof EVENTS.activations>): void {
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'activations without header');
    checkHeader(m.header, { runId: this.runId, planVersion: this.plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'collect' || !r.expected.has(link.id)) throw new ProtocolError('stale', `round ${m.header.round} is no longer collecting from ${link.id}`);
    if (r.acts.has(link.id) || r.satOut.has(link.id)) throw new ProtocolError('stale', `activations for round ${r.round} already received from ${link.id}`);
    const a = expectTensor(m.activations, { shape: [null, ...this.top.inputShape()], dtype: 'float32', finite: true });
    const n = a.shape[0]!;
    const sliceTotal = m.slices.reduce((s, x) => s + x.samples, 0);
    if (n < 1 || n > this.plan.batchSize * Math.max(1, m.slices.length) || sliceTotal !== n || m.slices.some((s) => s.samples > this.plan.batchSize)) {
      throw new ProtocolError('bad_shape', `${n} samples in ${m.slices.length} slices summing to ${sliceTotal} do not fit batch size ${this.plan.batchSize}`);
    }
    const labels = checkLabels(m.labels, modelInfo(this.plan.model).numClasses, n);
    r.acts.set(link.id, { data: a.data as Float32Array, labels, n, slices: m.slices.length });
    this.maybeCompute(r);
  }

  private onRoundDone(link: EdgeLink, m: MessageOf<typeof EVENTS.roundDone>): void {
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'round done without header');
    checkHeader(m.header, { runId: this.runId, planVersion: this.plan.version, round: r?.round ?? -1 });
    if (!r) throw new ProtocolError('stale', 'no round in progress');
    if (r.phase === 'collect' && r.expected.has(link.id) && !r.acts.has(link.id) && m.samples === 0) {
      // The edge sits this round out (no device delivered in time).
      r.satOut.add(link.id);
      r.done.set(link.id, m);
      this.maybeCompute(r);
      return;
    }
    if (r.phase !== 'down' || !r.awaitingDone.has(link.id)) throw new ProtocolError('stale', `not expecting round done from ${link.id}`);
    r.awaitingDone.delete(link.id);
    r.done.set(link.id, m);
    if (r.awaitingDone.size === 0) this.finishRound(r);
  }

  private onWeightsUp(link: EdgeLink, m: MessageOf<typeof EVENTS.weightsUp>): void {
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'weights without header');
    checkHeader(m.header, { runId: this.runId, planVersion: this.plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'down' || !r.awaitingDone.has(link.id)) throw new ProtocolError('stale', `not expecting weights from ${link.id} now`);
    if (!(m.samples > 0)) throw new ProtocolError('bad_shape', 'weights must carry a positive sample count');
    if (m.tier === Tier.TIER_DEVICE) {
      if (!r.syncDevices) throw new ProtocolError('stale', `round ${r.round} does not aggregate devices`);
      if (r.deviceAvgs.has(link.id)) throw new ProtocolError('stale', 'device weights already received');
      r.deviceAvgs.set(link.id, { ws: checkWeights(m.tensors, tierWeightShapes(this.plan.model, 0, this.plan.c1)), samples: m.samples });
    } else if (m.tier === Tier.TIER_EDGE) {
      if (!r.syncEdges) throw new ProtocolError('stale', `round ${r.round} does not aggregate edges`);
      if (r.edgeCopies.has(link.id)) throw new ProtocolError('stale', 'edge weights already received');
      r.edgeCopies.set(link.id, { ws: checkWeights(m.tensors, tierWeightShapes(this.plan.model, this.plan.c1, this.plan.c2)), samples: m.samples });
    } else {
      throw new ProtocolError('bad_shape', 'edges upload device or edge tier weights only');
    }
  }

  private maybeCompute(r: CloudRound): void {
    if (r.phase !== 'collect') return;
    for (const id of r.expected) if (!r.acts.has(id) && !r.satOut.has(id)) return;
    clearTimeout(r.timer);
    r.waitMs += performance.now() - r.phaseStartedAt;
    if (r.acts.size === 0) {
      this.finishRound(r);
      return;
    }
    r.phase = 'down';
    const ids = [...r.acts.keys()].sort();
    const inShape = this.top.inputShape();
    const per = inShape.reduce((a, b) => a * b, 1);
    const total = ids.reduce((a, id) => a + r.acts.get(id)!.n, 0);
    const t0 = performance.now();
    const xData = new Float32Array(total * per);
    const labels = new Int32Array(total);
    let off = 0;
    for (const id of ids) {
      const p = r.acts.get(id)!;
      xData.set(p.data, off * per);
      labels.set(p.labels, off);
      off += p.n;
    }
    r.slices = ids.map((id) => ({ id, n: r.acts.get(id)!.n }));
    r.participants = ids.reduce((a, id) => a + r.acts.get(id)!.slices, 0);
    r.acts.clear();
    const x = tf.tensor(xData, [total, ...inShape]);
    const y = tf.tensor1d(labels, 'int32');
    const out = this.top.trainTop(x, y, this.plan.lr, true);
    x.dispose();
    y.dispose();
    const dx = out.dxSum ? (out.dxSum.dataSync() as Float32Array) : new Float32Array(total * per);
    out.dxSum?.dispose();
    r.loss = out.lossSum;
    r.correct = out.correct;
    r.samples = total;
    r.computeMs += performance.now() - t0;
    r.phaseStartedAt = performance.now();
    off = 0;
    for (const s of r.slices) {
      const link = this.edges.get(s.id);
      const slice = dx.subarray(off * per, (off + s.n) * per);
      off += s.n;
      if (!link) continue;
      r.awaitingDone.add(s.id);
      link.peer.send(EVENTS.gradients, { header: this.header(r.round), gradients: encodeTensor(slice, [s.n, ...inShape], this.codecName()) });
    }
    if (r.awaitingDone.size === 0) this.finishRound(r);
    else this.armDeadline(r);
  }

  private finishRound(r: CloudRound): void {
    if (r.phase === 'done') return;
    clearTimeout(r.timer);
    if (r.phase === 'down') r.waitMs += performance.now() - r.phaseStartedAt;
    r.phase = 'done';
    this.round = undefined;
    const header = this.header(r.round);
    const t0 = performance.now();
    if (r.syncDevices && r.deviceAvgs.size > 0) {
      const copies = [...r.deviceAvgs.values()];
      this.deviceAvg = fedAvg(copies.map((c) => c.ws), copies.map((c) => c.samples));
      const tensors = this.encodeTier(this.deviceAvg, 0, this.plan.c1);
      const samples = copies.reduce((a, c) => a + c.samples, 0);
      for (const e of this.edges.values()) e.peer.send(EVENTS.weightsDown, { header, tier: Tier.TIER_DEVICE, tensors, samples });
    }
    if (r.syncEdges && r.edgeCopies.size > 0) {
      const copies = [...r.edgeCopies.values()];
      this.edgeAvg = fedAvg(copies.map((c) => c.ws), copies.map((c) => c.samples));
      const tensors = this.encodeTier(this.edgeAvg, this.plan.c1, this.plan.c2);
      const samples = copies.reduce((a, c) => a + c.samples, 0);
      for (const e of this.edges.values()) e.peer.send(EVENTS.weightsDown, { header, tier: Tier.TIER_EDGE, tensors, samples });
    }
    r.computeMs += performance.now() - t0;
    const done = [...r.done.values()];
    const late = new Set<string>();
    for (const d of done) for (const id of d.late) late.add(id);
    r.resolve({
      round: r.round,
      samples: r.samples,
      loss: r.samples ? r.loss / r.samples : NaN,
      trainAccuracy: r.samples ? r.correct / r.samples : NaN,
      roundMs: performance.now() - r.startedAt,
      deviceComputeMs: done.reduce((a, d) => Math.max(a, d.maxChildComputeMs), 0),
      edgeComputeMs: done.reduce((a, d) => Math.max(a, d.computeMs), 0),
      cloudComputeMs: r.computeMs,
      edgeWaitMs: done.reduce((a, d) => Math.max(a, d.waitMs), 0),
      cloudWaitMs: r.waitMs,
      bytesDeviceEdgeUp: done.reduce((a, d) => a + d.bytesDownUp, 0),
      bytesEdgeDeviceDown: done.reduce((a, d) => a + d.bytesDownDown, 0),
      bytesEdgeCloudUp: this.edgeBytes.bytesIn - r.bytesInAtStart,
      bytesCloudEdgeDown: this.edgeBytes.bytesOut - r.bytesOutAtStart,
      devices: r.participants,
      lateDevices: late.size,
      syncedDevices: r.syncDevices,
      syncedEdges: r.syncEdges,
    });
  }

  private armDeadline(r: CloudRound): void {
    clearTimeout(r.timer);
    // The cloud waits a little longer than the edges so that an edge's own
    // deadline fires first and it can still report with the devices it has.
    const ms = (this.plan.deadlineMs || 30000) * 1.5;
    r.timer = setTimeout(() => {
      void this.mailbox.run(() => {
        if (this.round !== r) return;
        if (r.phase === 'collect') {
          const missing = [...r.expected].filter((id) => !r.acts.has(id) && !r.satOut.has(id));
          this.event('warn', 'deadline', `round ${r.round}: going on without edges ${missing.join(', ')}`);
          for (const id of missing) r.expected.delete(id);
          this.maybeCompute(r);
        } else if (r.phase === 'down') {
          this.event('warn', 'deadline', `round ${r.round}: edges ${[...r.awaitingDone].join(', ')} did not finish in time`);
          this.finishRound(r);
        }
      });
    }, ms);
    r.timer.unref?.();
  }

  private abortRound(): void {
    const r = this.round;
    if (!r) return;
    clearTimeout(r.timer);
    this.finishRound(r);
  }

  // ---- evaluation, checkpoints ---------------------------------------------

  private evaluate(): { loss: number; accuracy: number } {
    const res = evaluate(this.plan.model, this.globalWeights(), this.opts.testData);
    this.emit('eval', res);
    return { loss: res.loss, accuracy: res.accuracy };
  }

  private saveFinal(accuracy: number): void {
    const ckpt = exportCheckpoint(this.plan.model, this.globalWeights());
    this.opts.store.saveCheckpoint({
      runId: this.runId, round: this.nextRound, kind: 'final', modelJson: ckpt.modelJson,
      weights: Buffer.from(ckpt.weightsBin.buffer, ckpt.weightsBin.byteOffset, ckpt.weightsBin.byteLength), accuracy,
    });
  }

  private broadcastEnd(reason: string): void {
    for (const e of this.edges.values()) e.peer.send(EVENTS.runEnd, { runId: this.runId, reason });
  }

  // ---- helpers -----------------------------------------------------------

  private encodeTier(ws: Float32Array[], start: number, end: number) {
    const shapes = tierWeightShapes(this.plan.model, start, end);
    return ws.map((w, i) => encodeTensor(w, shapes[i]!));
  }

  private header(round: number) {
    return { runId: this.runId, planVersion: this.plan.version, round, sender: 'cloud' };
  }

  /** Largest message accepted under the current plan (docs/protocol.md, Limits). */
  private messageLimit(): number {
    const transport = this.opts.maxBytes ?? MAX_MESSAGE_BYTES;
    return Math.min(transport, messageLimitFor({ batchSize: this.plan.batchSize, devices: MAX_DEVICES_PER_EDGE, ...modelSizes(this.plan.model) }));
  }

  private codecName(): 'raw' | 'fp16' | 'int8' {
    return this.plan.codec === 1 ? 'fp16' : this.plan.codec === 2 ? 'int8' : 'raw';
  }

  private event(level: 'debug' | 'info' | 'warn' | 'error', kind: string, message: string, nodeId: string | null = null, data: unknown = null): void {
    this.opts.store.addEvent({ runId: this.runId, level, kind, nodeId, message, data });
    this.opts.log[level === 'debug' ? 'debug' : level]({ kind, nodeId, runId: this.runId }, message);
    this.emit('event', { level, kind, message, nodeId });
  }
}
