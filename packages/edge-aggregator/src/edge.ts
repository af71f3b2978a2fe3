import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import {
  EVENTS, Mailbox, Peer, ProtocolError, checkHeader, checkLabels, checkWeights, checkCapacityFigures, encodeTensor, expectTensor,
  MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, MAX_DEVICES_PER_EDGE, Role, Tier, messageLimitFor, codecName, LinkProber, answerProbes,
  type ByteTotals, type LogLike, type MessageOf,
} from '@hsfl/protocol';
import { tf, SubModel, fedAvg, modelInfo, modelSizes, tierWeightShapes, measureCompute, concatBatches } from '@hsfl/runtime';

type Plan = NonNullable<MessageOf<typeof EVENTS.welcome>['plan']>;

export interface EdgeOptions {
  id: string;
  cloudUrl: string;
  /** Token this edge presents to the cloud. */
  token: string;
  /** Token devices must present to this edge. */
  deviceToken: string;
  /** Address and port devices connect to (port 0: any free port). */
  bindHost: string;
  port: number;
  backend: string;
  host: string;
  log: LogLike;
  /** Transport-level cap (socket.io maxHttpBufferSize); see docs/protocol.md. */
  maxBytes?: number;
}

interface DeviceLink {
  id: string;
  socket: ServerSocket;
  peer: Peer;
  backend: string;
  host: string;
  samples: number;
}

interface EdgeRound {
  round: number;
  syncDevices: boolean;
  syncEdges: boolean;
  phase: 'collect' | 'up' | 'down' | 'done';
  startedAt: number;
  expected: Set<string>;
  acts: Map<string, { data: Float32Array; labels: Int32Array; n: number }>;
  slices: { id: string; n: number }[];
  x?: tf.Tensor;
  awaitingDone: Set<string>;
  done: Map<string, MessageOf<typeof EVENTS.roundDone>>;
  deviceCopies: Map<string, { ws: Float32Array[]; samples: number }>;
  computeMs: number;
  waitMs: number;
  phaseStartedAt: number;
  bytesInAtStart: number;
  bytesOutAtStart: number;
  timer?: NodeJS.Timeout;
  late: Set<string>;
}

/**
 * The edge aggregator: holds units [c1, c2), gathers its devices'
 * activations, trains its copy in step with the cloud, and pre-averages its
 * devices' copies on device-sync rounds (DESIGN §2, steps 2 and 4).
 */
export class EdgeAggregator extends EventEmitter {
  private http?: HttpServer;
  private server?: Server;
  private cloud?: Socket;
  private cloudPeer?: Peer;
  private readonly mailbox: Mailbox;
  private readonly devices = new Map<string, DeviceLink>();
  private readonly waitingForWelcome = new Set<DeviceLink>();
  /** Devices the operator removed from the current run. */
  private readonly removed = new Set<string>();
  private runId = '';
  private plan?: Plan;
  private sub?: SubModel;
  private deviceWeights: Float32Array[] = [];
  private samplesSinceEdgeSync = 0;
  private round?: EdgeRound;
  private lastRound = -1;
  /** Bytes over all device links, both directions, for per-round metrics. */
  private readonly deviceBytes: ByteTotals = { bytesIn: 0, bytesOut: 0 };
  port = 0;
  private prober?: LinkProber;
  private measuring = false;

  constructor(private readonly opts: EdgeOptions) {
    super();
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'edge task failed'));
  }

  get weights(): Float32Array[] {
    return this.sub ? this.sub.getWeights() : [];
  }

  get connectedDevices(): string[] {
    return [...this.devices.keys()].sort();
  }

  async start(): Promise<number> {
    this.http = createServer();
    this.server = new Server(this.http, {
      maxHttpBufferSize: this.opts.maxBytes ?? MAX_MESSAGE_BYTES,
      serveClient: false,
      pingInterval: 5000,
      pingTimeout: 10000,
    });
    this.server.on('connection', (socket) => this.onDeviceConnection(socket));
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(this.opts.port, this.opts.bindHost, () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.opts.log.info({ port: this.port, host: this.opts.bindHost }, 'edge listening for devices');
    this.connectCloud();
    return this.port;
  }

  async stop(): Promise<void> {
    await this.mailbox.run(() => this.abortRound('stopping'));
    this.cloud?.disconnect();
    this.server?.disconnectSockets(true);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.sub?.dispose();
    this.sub = undefined;
  }

  // ---- cloud side -------------------------------------------------------

  private connectCloud(): void {
    const socket = io(this.opts.cloudUrl, { transports: ['websocket'], reconnectionDelay: 250, reconnectionDelayMax: 2000 });
    this.cloud = socket;
    const peer = new Peer(socket, { name: 'cloud', log: this.opts.log, mailbox: this.mailbox, maxBytes: () => this.messageLimit() });
    this.cloudPeer = peer;
    this.prober = new LinkProber(socket);
    socket.on('connect', () => {
      this.opts.log.info({ cloud: this.opts.cloudUrl }, 'connected to cloud, joining');
      peer.send(EVENTS.hello, {
        nodeId: this.opts.id, role: Role.ROLE_EDGE, token: this.opts.token, backend: this.opts.backend,
        numSamples: 0, software: 'hsfl-edge', host: this.opts.host,
      });
    });
    socket.on('disconnect', (reason) => {
      void this.mailbox.run(() => {
        this.opts.log.warn({ reason }, 'disconnected from cloud; keeping devices, waiting to reconnect');
        this.abortRound('cloud disconnected');
      });
    });
    socket.on('connect_error', (err) => this.opts.log.debug({ err: err.message }, 'cloud not reachable yet'));
    peer.onErrorReply((e) => this.opts.log.warn({ code: e.code, event: e.event, err: e.message }, 'cloud refused a message'));
    peer.on(EVENTS.welcome, (m) => this.onWelcome(m));
    peer.on(EVENTS.roundStart, (m) => this.onRoundStart(m));
    peer.on(EVENTS.gradients, (m) => this.onCloudGradients(m));
    peer.on(EVENTS.weightsDown, (m) => this.onWeightsDown(m));
    peer.on(EVENTS.runEnd, (m) => this.onRunEnd(m));
    peer.on(EVENTS.evalReport, (m) => {
      checkHeader(m.header!, { runId: this.runId, planVersion: this.requirePlan().version });
      this.opts.log.info({ round: m.header!.round, accuracy: m.accuracy, loss: m.loss }, 'global model scored');
      for (const link of this.devices.values()) link.peer.send(EVENTS.evalReport, m);
    });
    peer.on(EVENTS.nodeStatus, (m) => this.onCloudNodeStatus(m));
    peer.on(EVENTS.capacityRequest, (m) => {
      modelInfo(m.model);
      if (!(m.batchSize >= 1 && m.batchSize <= 4096)) throw new ProtocolError('malformed', `bad batch size ${m.batchSize}`);
      for (const link of this.devices.values()) link.peer.send(EVENTS.capacityRequest, m);
      void this.reportCapacity(m.model, m.batchSize, m.probeBytes || undefined);
    });
  }

  private onWelcome(m: MessageOf<typeof EVENTS.welcome>): void {
    const plan = m.plan;
    if (!plan) throw new ProtocolError('malformed', 'welcome without a plan');
    const info = modelInfo(plan.model);
    if (!(plan.c1 <= plan.c2 && plan.c2 <= info.numUnits)) throw new ProtocolError('bad_shape', `cuts (${plan.c1}, ${plan.c2}) do not fit ${plan.model}`);
    const devShapes = tierWeightShapes(plan.model, 0, plan.c1);
    const deviceWeights = m.deviceWeights.length ? checkWeights(m.deviceWeights, devShapes) : [];
    const edgeShapes = tierWeightShapes(plan.model, plan.c1, plan.c2);
    const edgeWeights = m.edgeWeights.length ? checkWeights(m.edgeWeights, edgeShapes) : [];
    const newRun = m.runId !== this.runId;
    this.abortRound(newRun ? 'a new run begins' : 'the plan changed');
    const s = this.sub;
    if (!s || s.modelName !== plan.model || s.start !== plan.c1 || s.end !== plan.c2) {
      s?.dispose();
      this.sub = SubModel.create(plan.model, plan.c1, plan.c2, plan.seed);
    }
    this.sub!.trackGradNorms = true;
    if (edgeWeights.length) this.sub!.setWeights(edgeWeights);
    this.deviceWeights = deviceWeights.map((w) => w.slice());
    if (newRun) this.removed.clear();
    this.runId = m.runId;
    this.plan = plan;
    this.samplesSinceEdgeSync = 0;
    this.lastRound = m.nextRound - 1;
    this.opts.log.info({ runId: m.runId, plan: plan.version, c1: plan.c1, c2: plan.c2, i1: plan.i1, i2: plan.i2, nextRound: m.nextRound }, newRun ? 'joined run' : 'plan changed');
    for (const link of this.waitingForWelcome) this.devices.set(link.id, link);
    this.waitingForWelcome.clear();
    for (const link of this.devices.values()) this.welcomeDevice(link);
    if (newRun) void this.reportCapacity(plan.model, plan.batchSize);
  }

  /** Measures this edge (compute per unit, memory, the link to the cloud) and reports it; outside the mailbox. */
  private async reportCapacity(model: string, batchSize: number, probeBytes?: number): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    try {
      const c = await measureCompute(model, batchSize);
      const link = await this.prober!.measure({ bytes: probeBytes });
      this.cloudPeer!.send(EVENTS.capacityReport, {
        nodeId: this.opts.id, role: Role.ROLE_EDGE, parentId: 'cloud', backend: this.opts.backend, host: this.opts.host, model, batchSize,
        fwdMsPerSample: c.fwdMsPerSample, bwdMsPerSample: c.bwdMsPerSample, peakBytes: c.peakBytes,
        memTotalBytes: c.memTotalBytes, memFreeBytes: c.memFreeBytes, cpus: c.cpus, measuredAtMs: Date.now(), ...link,
      });
      this.opts.log.info({ rttMs: link.rttMs, upBytesPerSec: link.upBytesPerSec, downBytesPerSec: link.downBytesPerSec }, 'capacity measured and reported');
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, 'capacity measurement failed');
    } finally {
      this.measuring = false;
    }
  }

  private onDeviceCapacity(link: DeviceLink, m: MessageOf<typeof EVENTS.capacityReport>): void {
    if (m.nodeId !== link.id || m.role !== Role.ROLE_DEVICE) throw new ProtocolError('malformed', 'a device reports its own capacity only');
    const L = modelInfo(m.model).numUnits;
    checkCapacityFigures(m, L);
    if (this.cloud?.connected) this.cloudPeer!.send(EVENTS.capacityReport, { ...m, parentId: this.opts.id });
  }

  private onRoundStart(m: MessageOf<typeof EVENTS.roundStart>): void {
    const plan = this.requirePlan();
    const h = m.header;
    if (!h) throw new ProtocolError('malformed', 'round start without header');
    checkHeader(h, { runId: this.runId, planVersion: plan.version });
    if (h.round <= this.lastRound) throw new ProtocolError('stale', `round ${h.round} is not after ${this.lastRound}`);
    this.abortRound('superseded');
    this.lastRound = h.round;
    const now = performance.now();
    const r: EdgeRound = {
      round: h.round, syncDevices: m.syncDevices, syncEdges: m.syncEdges, phase: 'collect', startedAt: now,
      expected: new Set(this.devices.keys()), acts: new Map(), slices: [], awaitingDone: new Set(), done: new Map(),
      deviceCopies: new Map(), computeMs: 0, waitMs: 0, phaseStartedAt: now,
      bytesInAtStart: this.deviceBytes.bytesIn, bytesOutAtStart: this.deviceBytes.bytesOut, late: new Set(),
    };
    this.round = r;
    if (r.expected.size === 0) {
      this.sitOut(r, 'no devices connected');
      return;
    }
    for (const id of r.expected) {
      const link = this.devices.get(id)!;
      link.peer.send(EVENTS.roundStart, { header: this.header(r.round), syncDevices: m.syncDevices, syncEdges: m.syncEdges });
    }
    this.armDeadline(r);
  }

  private onCloudGradients(m: MessageOf<typeof EVENTS.gradients>): void {
    const plan = this.requirePlan();
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'gradients without header');
    checkHeader(m.header, { runId: this.runId, planVersion: plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'up' || !r.x) throw new ProtocolError('stale', `no activations outstanding for round ${m.header.round}`);
    const n = r.x.shape[0]!;
    const outShape = this.sub!.outputShape();
    const g = expectTensor(m.gradients, { shape: [n, ...outShape], dtype: 'float32', finite: true });
    r.waitMs += performance.now() - r.phaseStartedAt;
    const t0 = performance.now();
    const dy = tf.tensor(g.data, [n, ...outShape]);
    const dx = this.sub!.backward(r.x, dy, n, plan.lr, true);
    dy.dispose();
    this.samplesSinceEdgeSync += n;
    const inShape = this.sub!.inputShape();
    const per = inShape.reduce((a, b) => a * b, 1);
    const dxData = dx ? (dx.dataSync() as Float32Array) : new Float32Array(n * per);
    dx?.dispose();
    r.x.dispose();
    r.x = undefined;
    r.computeMs += performance.now() - t0;
    r.phase = 'down';
    r.phaseStartedAt = performance.now();
    let offset = 0;
    for (const s of r.slices) {
      const slice = dxData.subarray(offset * per, (offset + s.n) * per);
      offset += s.n;
      const link = this.devices.get(s.id);
      if (!link) continue;
      r.awaitingDone.add(s.id);
      link.peer.send(EVENTS.gradients, { header: this.header(r.round), gradients: encodeTensor(slice, [s.n, ...inShape], codecName(plan.codec)) });
    }
    if (r.awaitingDone.size === 0) this.finishRound(r);
    else this.armDeadline(r);
  }

  private onWeightsDown(m: MessageOf<typeof EVENTS.weightsDown>): void {
    const plan = this.requirePlan();
    if (!m.header) throw new ProtocolError('malformed', 'weights without header');
    checkHeader(m.header, { runId: this.runId, planVersion: plan.version });
    if (m.tier === Tier.TIER_DEVICE) {
      const ws = checkWeights(m.tensors, tierWeightShapes(plan.model, 0, plan.c1));
      this.deviceWeights = ws.map((w) => w.slice());
      for (const link of this.devices.values()) {
        link.peer.send(EVENTS.weightsDown, { header: m.header, tier: Tier.TIER_DEVICE, tensors: m.tensors, samples: m.samples });
      }
    } else if (m.tier === Tier.TIER_EDGE) {
      this.sub!.setWeights(checkWeights(m.tensors, this.sub!.weightShapes()));
      this.samplesSinceEdgeSync = 0;
    } else {
      throw new ProtocolError('bad_shape', `an edge holds no tier ${m.tier} weights`);
    }
  }

  private onRunEnd(m: MessageOf<typeof EVENTS.runEnd>): void {
    if (m.runId !== this.runId) throw new ProtocolError('wrong_run', `run ${m.runId} is not this edge's run`);
    this.opts.log.info({ runId: m.runId, reason: m.reason }, 'run ended; waiting for the next one');
    this.abortRound('run ended');
    for (const link of this.devices.values()) link.peer.send(EVENTS.runEnd, m);
    this.plan = undefined;
    this.emit('runEnd', m.reason);
  }

  /** The cloud removes a device (operator action): disconnect it and keep it out for the rest of the run. */
  private onCloudNodeStatus(m: MessageOf<typeof EVENTS.nodeStatus>): void {
    if (m.connected) throw new ProtocolError('malformed', 'the cloud only sends removals');
    this.removed.add(m.nodeId);
    const link = this.devices.get(m.nodeId);
    if (!link) return;
    this.opts.log.warn({ device: m.nodeId, reason: m.reason }, 'device removed by the cloud');
    this.dropDevice(link, m.reason || 'removed');
    link.peer.send(EVENTS.error, { code: 'removed', message: m.reason || 'removed by the operator', event: EVENTS.nodeStatus });
    setTimeout(() => link.socket.disconnect(true), 200);
  }

  // ---- device side ------------------------------------------------------

  private onDeviceConnection(socket: ServerSocket): void {
    let link: DeviceLink | undefined;
    const peer = new Peer(socket, {
      name: `device@${socket.handshake.address}`,
      log: this.opts.log,
      mailbox: this.mailbox,
      maxBytes: () => this.messageLimit(),
      totals: this.deviceBytes,
    });
    peer.onErrorReply((e) => this.opts.log.warn({ device: link?.id, code: e.code, err: e.message }, 'device reported an error'));
    peer.on(EVENTS.hello, (m) => {
      if (m.token !== this.opts.deviceToken) {
        this.opts.log.warn({ node: m.nodeId, address: socket.handshake.address }, 'device presented a wrong join token');
        setTimeout(() => socket.disconnect(true), 200);
        throw new ProtocolError('unauthorized', 'wrong join token');
      }
      if (m.role !== Role.ROLE_DEVICE) throw new ProtocolError('malformed', 'only devices may join an edge');
      if (!/^[A-Za-z0-9._:-]{1,64}$/.test(m.nodeId)) throw new ProtocolError('malformed', 'node id must be 1-64 characters of [A-Za-z0-9._:-]');
      if (link) throw new ProtocolError('malformed', 'already joined on this connection');
      if (this.removed.has(m.nodeId)) {
        setTimeout(() => socket.disconnect(true), 200);
        throw new ProtocolError('unauthorized', `device ${m.nodeId} was removed from this run by the operator`);
      }
      const previous = this.devices.get(m.nodeId);
      if (!previous && this.devices.size + this.waitingForWelcome.size >= MAX_DEVICES_PER_EDGE) {
        setTimeout(() => socket.disconnect(true), 200);
        throw new ProtocolError('limit', `this edge already serves ${MAX_DEVICES_PER_EDGE} devices`);
      }
      if (previous) {
        this.opts.log.warn({ device: m.nodeId }, 'device reconnected; replacing its old connection');
        this.dropDevice(previous, 'replaced by a new connection');
        previous.socket.disconnect(true);
      }
      link = { id: m.nodeId, socket, peer, backend: m.backend, host: m.host, samples: m.numSamples };
      if (!this.plan) {
        this.waitingForWelcome.add(link);
        this.opts.log.info({ device: m.nodeId }, 'device waiting for the run to be joined');
        return;
      }
      this.welcomeDevice(link);
    });
    peer.on(EVENTS.activations, (m) => this.onDeviceActivations(this.joined(link), m));
    peer.on(EVENTS.weightsUp, (m) => this.onDeviceWeights(this.joined(link), m));
    peer.on(EVENTS.roundDone, (m) => this.onDeviceRoundDone(this.joined(link), m));
    peer.on(EVENTS.capacityReport, (m) => this.onDeviceCapacity(this.joined(link), m));
    answerProbes(socket, this.opts.log);
    socket.on('disconnect', (reason) => {
      void this.mailbox.run(() => {
        if (!link) return;
        this.waitingForWelcome.delete(link);
        if (this.devices.get(link.id) === link) this.dropDevice(link, reason);
      });
    });
  }

  private joined(link: DeviceLink | undefined): DeviceLink {
    if (!link || this.devices.get(link.id) !== link) throw new ProtocolError('not_joined', 'send hello first');
    return link;
  }

  private welcomeDevice(link: DeviceLink): void {
    const plan = this.plan!;
    this.devices.set(link.id, link);
    const shapes = tierWeightShapes(plan.model, 0, plan.c1);
    link.peer.send(EVENTS.welcome, {
      runId: this.runId, plan, nextRound: this.lastRound + 1, parentId: this.opts.id,
      deviceWeights: this.deviceWeights.map((w, i) => encodeTensor(w, shapes[i]!)), edgeWeights: [],
    });
    this.opts.log.info({ device: link.id, backend: link.backend, samples: link.samples }, 'device joined');
    this.reportDevice(link, true, 'joined');
  }

  private dropDevice(link: DeviceLink, reason: string): void {
    this.devices.delete(link.id);
    this.opts.log.warn({ device: link.id, reason }, 'device left');
    this.reportDevice(link, false, reason);
    const r = this.round;
    if (!r || r.phase === 'done') return;
    r.expected.delete(link.id);
    r.awaitingDone.delete(link.id);
    if (r.phase === 'collect') this.maybeForwardUp(r);
    else if (r.phase === 'down' && r.awaitingDone.size === 0) this.finishRound(r);
  }

  private reportDevice(link: DeviceLink, connected: boolean, reason: string): void {
    if (!this.cloudPeer || !this.cloud?.connected) return;
    this.cloudPeer.send(EVENTS.nodeStatus, {
      nodeId: link.id, role: Role.ROLE_DEVICE, parentId: this.opts.id, connected, backend: link.backend,
      numSamples: link.samples, host: link.host, reason,
    });
  }

  private onDeviceActivations(link: DeviceLink, m: MessageOf<typeof EVENTS.activations>): void {
    const plan = this.requirePlan();
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'activations without header');
    checkHeader(m.header, { runId: this.runId, planVersion: plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'collect' || !r.expected.has(link.id)) throw new ProtocolError('stale', `round ${m.header.round} is no longer collecting from ${link.id}`);
    if (r.acts.has(link.id)) throw new ProtocolError('stale', `activations for round ${r.round} already received from ${link.id}`);
    const shape = this.sub!.inputShape();
    const a = expectTensor(m.activations, { shape: [null, ...shape], dtype: 'float32', finite: true });
    const n = a.shape[0]!;
    if (n < 1 || n > plan.batchSize) throw new ProtocolError('bad_shape', `batch of ${n} samples; the plan allows 1 to ${plan.batchSize}`);
    const labels = checkLabels(m.labels, modelInfo(plan.model).numClasses, n);
    r.acts.set(link.id, { data: a.data as Float32Array, labels, n });
    this.maybeForwardUp(r);
  }

  private onDeviceWeights(link: DeviceLink, m: MessageOf<typeof EVENTS.weightsUp>): void {
    const plan = this.requirePlan();
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'weights without header');
    checkHeader(m.header, { runId: this.runId, planVersion: plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'down' || !r.syncDevices || !r.awaitingDone.has(link.id)) throw new ProtocolError('stale', `not expecting weights from ${link.id} now`);
    if (m.tier !== Tier.TIER_DEVICE) throw new ProtocolError('bad_shape', 'devices upload device-tier weights only');
    if (r.deviceCopies.has(link.id)) throw new ProtocolError('stale', `weights for round ${r.round} already received from ${link.id}`);
    const ws = checkWeights(m.tensors, tierWeightShapes(plan.model, 0, plan.c1));
    if (!(m.samples > 0)) throw new ProtocolError('bad_shape', 'weights must carry a positive sample count');
    r.deviceCopies.set(link.id, { ws, samples: m.samples });
  }

  private onDeviceRoundDone(link: DeviceLink, m: MessageOf<typeof EVENTS.roundDone>): void {
    const plan = this.requirePlan();
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'round done without header');
    checkHeader(m.header, { runId: this.runId, planVersion: plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'down' || !r.awaitingDone.has(link.id)) throw new ProtocolError('stale', `not expecting round done from ${link.id}`);
    r.awaitingDone.delete(link.id);
    r.done.set(link.id, m);
    if (r.awaitingDone.size === 0) this.finishRound(r);
  }

  // ---- the round ----------------------------------------------------------

  private maybeForwardUp(r: EdgeRound): void {
    if (r.phase !== 'collect') return;
    if (r.acts.size < r.expected.size) return;
    if (r.acts.size === 0) {
      this.sitOut(r, 'no device delivered activations');
      return;
    }
    this.forwardUp(r);
  }

  private forwardUp(r: EdgeRound): void {
    const plan = this.requirePlan();
    clearTimeout(r.timer);
    r.waitMs += performance.now() - r.phaseStartedAt;
    r.phase = 'up';
    for (const id of r.expected) if (!r.acts.has(id)) r.late.add(id);
    const ids = [...r.acts.keys()].sort();
    const inShape = this.sub!.inputShape();
    const t0 = performance.now();
    const parts = ids.map((id) => r.acts.get(id)!);
    const total = parts.reduce((a, p) => a + p.n, 0);
    const { x: xData, y: labels } = concatBatches(parts.map((p) => ({ x: p.data, y: p.labels, n: p.n })));
    r.slices = ids.map((id) => ({ id, n: r.acts.get(id)!.n }));
    r.acts.clear();
    const x = tf.tensor(xData, [total, ...inShape]);
    const y = this.sub!.forward(x);
    const yData = y.dataSync() as Float32Array;
    if (y !== x) y.dispose();
    r.x = x;
    r.computeMs += performance.now() - t0;
    r.phaseStartedAt = performance.now();
    this.cloudPeer!.send(EVENTS.activations, {
      header: this.header(r.round),
      activations: encodeTensor(yData, [total, ...this.sub!.outputShape()], codecName(plan.codec)),
      labels: encodeTensor(labels, [total]),
      slices: r.slices.map((s) => ({ nodeId: s.id, samples: s.n })),
    });
    this.armDeadline(r);
  }

  private finishRound(r: EdgeRound): void {
    if (r.phase === 'done') return;
    const plan = this.requirePlan();
    clearTimeout(r.timer);
    r.waitMs += performance.now() - r.phaseStartedAt;
    r.phase = 'done';
    for (const id of r.awaitingDone) r.late.add(id);
    const header = this.header(r.round);
    const samples = r.slices.reduce((a, s) => a + s.n, 0);
    if (r.syncDevices && r.deviceCopies.size > 0) {
      const copies = [...r.deviceCopies.values()];
      const avg = fedAvg(copies.map((c) => c.ws), copies.map((c) => c.samples));
      const shapes = tierWeightShapes(plan.model, 0, plan.c1);
      this.cloudPeer!.send(EVENTS.weightsUp, {
        header, tier: Tier.TIER_DEVICE, tensors: avg.map((w, i) => encodeTensor(w, shapes[i]!)),
        samples: copies.reduce((a, c) => a + c.samples, 0),
      });
    }
    if (r.syncEdges && !this.sub!.isEmpty && this.samplesSinceEdgeSync > 0) {
      const shapes = this.sub!.weightShapes();
      this.cloudPeer!.send(EVENTS.weightsUp, {
        header, tier: Tier.TIER_EDGE, tensors: this.sub!.getWeights().map((w, i) => encodeTensor(w, shapes[i]!)),
        samples: this.samplesSinceEdgeSync,
      });
    }
    const childCompute = [...r.done.values()].map((d) => d.computeMs);
    const gradSq = this.combineGradSq(r, plan);
    this.cloudPeer!.send(EVENTS.roundDone, {
      header, samples, computeMs: r.computeMs, maxChildComputeMs: childCompute.length ? Math.max(...childCompute) : 0,
      waitMs: r.waitMs, bytesDownUp: this.deviceBytes.bytesIn - r.bytesInAtStart, bytesDownDown: this.deviceBytes.bytesOut - r.bytesOutAtStart,
      late: [...r.late].sort(), gradSqStart: gradSq.start, gradSq: gradSq.values,
    });
    if (r.late.size) this.opts.log.warn({ round: r.round, late: [...r.late] }, 'devices missed the deadline');
  }

  /**
   * Per-unit squared gradient norms of this round for units [0, c2): the
   * sample-weighted mean over the devices' reports, then this edge's own.
   */
  private combineGradSq(r: EdgeRound, plan: Plan): { start: number; values: number[] } {
    const own = this.sub!.lastUnitGradSq ?? [];
    const reports = [...r.done.values()].filter((d) => d.gradSq.length === plan.c1 && d.gradSqStart === 0 && d.samples > 0);
    if (plan.c1 === 0 || reports.length === 0) return { start: plan.c1, values: own.length === plan.c2 - plan.c1 ? own : [] };
    const total = reports.reduce((a, d) => a + d.samples, 0);
    const dev = new Array<number>(plan.c1).fill(0);
    for (const d of reports) d.gradSq.forEach((v, i) => (dev[i]! += (v * d.samples) / total));
    return { start: 0, values: own.length === plan.c2 - plan.c1 ? [...dev, ...own] : dev };
  }

  private sitOut(r: EdgeRound, why: string): void {
    clearTimeout(r.timer);
    r.phase = 'done';
    this.opts.log.info({ round: r.round, why }, 'edge sits this round out');
    this.cloudPeer!.send(EVENTS.roundDone, {
      header: this.header(r.round), samples: 0, computeMs: 0, maxChildComputeMs: 0, waitMs: 0,
      bytesDownUp: 0, bytesDownDown: 0, late: [...r.expected].sort(),
    });
  }

  private armDeadline(r: EdgeRound): void {
    clearTimeout(r.timer);
    const ms = this.requirePlan().deadlineMs || 30000;
    r.timer = setTimeout(() => {
      void this.mailbox.run(() => {
        if (this.round !== r) return;
        if (r.phase === 'collect') {
          this.opts.log.warn({ round: r.round, missing: [...r.expected].filter((id) => !r.acts.has(id)) }, 'deadline: going on without late devices');
          for (const id of r.expected) if (!r.acts.has(id)) r.expected.delete(id);
          this.maybeForwardUp(r);
        } else if (r.phase === 'down') {
          this.finishRound(r);
        }
      });
    }, ms);
    r.timer.unref?.();
  }

  private abortRound(why: string): void {
    const r = this.round;
    if (!r) return;
    clearTimeout(r.timer);
    r.x?.dispose();
    r.x = undefined;
    if (r.phase !== 'done') this.opts.log.warn({ round: r.round, why }, 'round abandoned');
    r.phase = 'done';
    this.round = undefined;
  }

  // ---- helpers ------------------------------------------------------------

  private header(round: number) {
    return { runId: this.runId, planVersion: this.plan!.version, round, sender: this.opts.id };
  }

  private requirePlan(): Plan {
    if (!this.plan || !this.sub) throw new ProtocolError('not_joined', 'the edge has not joined a run yet');
    return this.plan;
  }

  /** Largest message accepted: only small control messages until a plan is known (docs/protocol.md, Limits). */
  private messageLimit(): number {
    const transport = this.opts.maxBytes ?? MAX_MESSAGE_BYTES;
    if (!this.plan) return Math.min(transport, MIN_MESSAGE_BYTES);
    return Math.min(transport, messageLimitFor({ batchSize: this.plan.batchSize, devices: MAX_DEVICES_PER_EDGE, ...modelSizes(this.plan.model, this.plan) }));
  }
}

