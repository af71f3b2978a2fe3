import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  EVENTS, Mailbox, ProtocolError, checkHeader, checkLabels, checkNodeId, checkWeights, checkCapacityFigures, encodeTensor, expectTensor,
  MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, MAX_DEVICES_PER_EDGE, CLOUD_ID, Role, Tier, codecName,
  type ByteTotals, type LogLike, type MessageOf, type Plan,
} from '@hsfl/protocol';
import { modelInfo, tierWeightShapes } from '@hsfl/runtime';
import {
  ChildLinks, ParentLink, RoundBarrier, Deadline, TierModel, CapacityReporter, SampleLedger, MAX_REMOVED_IDS,
  addBounded, aggregatorFor, checkPlan, checkCapacityRequest, checkRoundDone, concatSlices, splitBySlices, planMessageLimit, headerFor,
  createLinkServer, clientTlsOptions,
  type ChildLink, type Hello, type LinkLimits, type NodeBundle, type Part, type RoundReport, type Slice,
} from '@hsfl/tier-engine';
import { combineGradSq } from './grad-stats.js';
import { DeviceAdmission } from './device-admission.js';
import { Misfits } from './misfits.js';
import type { EdgeOptions } from './edge-options.js';

export type { EdgeOptions } from './edge-options.js';

interface EdgeRound {
  barrier: RoundBarrier<Part, RoundReport>;
  syncDevices: boolean;
  syncEdges: boolean;
  slices: Slice[];
  sentUp: number;
  deviceCopies: Map<string, Float32Array[]>;
  computeMs: number;
  waitMs: number;
  phaseStartedAt: number;
  bytesInAtStart: number;
  bytesOutAtStart: number;
}

/**
 * The edge aggregator: holds units [c1, c2), gathers its devices'
 * activations, trains its copy in step with the cloud, and pre-averages its
 * devices' copies on device-sync rounds (DESIGN §2, steps 2 and 4). It is
 * the tier engine's child links (its devices), parent link (the cloud) and
 * round barrier, plus what is particular to the middle tier.
 */
export class EdgeAggregator extends EventEmitter {
  private http?: HttpServer;
  private readonly mailbox: Mailbox;
  private readonly children: ChildLinks;
  private parent?: ParentLink;
  private capacity?: CapacityReporter;
  /** Devices the operator removed from the current run (the latest MAX_REMOVED_IDS). */
  private readonly removed = new Set<string>();
  /** Devices whose data cannot train the current run. */
  private readonly misfits: Misfits;
  /** Under TLS: which devices may join (certificates, the coordinator's revocation list). */
  private readonly admission?: DeviceAdmission;
  private plan?: Plan;
  private model?: TierModel;
  private deviceWeights: Float32Array[] = [];
  /** Samples this edge saw from each device since device copies were last averaged. */
  private readonly deviceSamples = new SampleLedger();
  private round?: EdgeRound;
  private lastRound = -1;
  private readonly deadline = new Deadline();
  /** Bytes over all device links, both directions, for per-round metrics. */
  private readonly deviceBytes: ByteTotals = { bytesIn: 0, bytesOut: 0 };
  port = 0;

  constructor(private readonly opts: EdgeOptions) {
    super();
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'edge task failed'));
    if (!opts.bundle && opts.token === undefined) throw new Error('an edge needs its enrollment bundle (TLS) or, insecure, a join token');
    if (opts.bundle && opts.bundle.id !== opts.id) throw new Error(`the bundle is for ${opts.bundle.id}, not ${opts.id}`);
    if (opts.bundle) this.admission = new DeviceAdmission(opts.id);
    this.misfits = new Misfits(opts.log, (hello, reason) => this.reportDevice(hello, false, reason));
    this.children = new ChildLinks({
      childName: 'device', role: Role.ROLE_DEVICE, token: opts.deviceToken ?? opts.token, log: opts.log, mailbox: this.mailbox,
      authenticate: opts.bundle && ((hello, socket) => this.admission!.authenticate(hello, socket)),
      maxBytes: () => this.messageLimit(), transportBytes: opts.maxBytes, totals: this.deviceBytes,
      helloTimeoutMs: opts.helloTimeoutMs, limits: opts.linkLimits,
      admit: (hello, replacing) => this.admit(hello, replacing),
      onJoin: (link) => this.onDeviceJoin(link),
      onLeave: (link, reason) => this.onDeviceLeave(link, reason),
    });
    this.children
      .on(EVENTS.activations, (link, m) => this.onDeviceActivations(link, m))
      .on(EVENTS.weightsUp, (link, m) => this.onDeviceWeights(link, m))
      .on(EVENTS.roundDone, (link, m) => this.onDeviceRoundDone(link, m))
      .on(EVENTS.capacityReport, (link, m) => this.onDeviceCapacity(link, m));
  }

  get weights(): Float32Array[] {
    return this.model ? this.model.getWeights() : [];
  }

  get connectedDevices(): string[] {
    return [...this.children.all.keys()].sort();
  }

  /** What the edge is doing, for a shutdown message. */
  get activity(): string {
    const r = this.round;
    if (r && r.barrier.phase !== 'done') return `round ${r.barrier.round} (${r.barrier.phase}) of run ${this.plan?.runId}`;
    return this.plan ? `run ${this.plan.runId} between rounds` : 'no run';
  }

  async start(): Promise<number> {
    const b = this.opts.bundle;
    this.http = createLinkServer(b && { caCert: b.caCert, cert: b.cert, key: b.key });
    this.children.attach(this.http);
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(this.opts.port, this.opts.bindHost, () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.opts.log.info({ port: this.port, host: this.opts.bindHost }, 'edge listening for devices');
    this.connectCloud();
    return this.port;
  }

  /** Closes both sides; devices are told the edge is going away for now and keep trying to come back. */
  async stop(reason = 'edge shutting down'): Promise<void> {
    this.deadline.clear();
    await this.mailbox.run(() => this.abortRound(reason));
    this.parent?.close();
    await this.children.close(reason, false);
    this.model?.dispose();
    this.model = undefined;
  }

  // ---- device identity (TLS) ----------------------------------------------

  private onRevocations(serials: string[]): void {
    if (!this.admission) throw new ProtocolError('malformed', 'this edge runs --insecure: it has no revocation list');
    const gone = this.children.sendAwayRevoked(this.admission.update(serials), 'this device\'s credential was revoked by the operator');
    for (const id of gone) this.opts.log.warn({ device: id }, `device ${id} disconnected: its credential was revoked`);
  }

  // ---- the cloud side -----------------------------------------------------

  private connectCloud(): void {
    const parent = new ParentLink({
      url: this.opts.cloudUrl, parentName: 'cloud', log: this.opts.log, mailbox: this.mailbox,
      maxBytes: () => this.messageLimit(),
      hello: () => ({ nodeId: this.opts.id, role: Role.ROLE_EDGE, token: this.opts.token ?? '', backend: this.opts.backend, numSamples: 0, software: 'hsfl-edge', host: this.opts.host }),
      tls: this.opts.bundle && clientTlsOptions(this.opts.bundle, { role: 'cloud', id: CLOUD_ID }),
    });
    this.parent = parent;
    this.capacity = new CapacityReporter({
      nodeId: this.opts.id, role: Role.ROLE_EDGE, backend: this.opts.backend, host: this.opts.host, log: this.opts.log, socket: parent.socket,
      send: (r) => parent.send(EVENTS.capacityReport, { ...r, parentId: CLOUD_ID }),
    });
    parent.on('disconnected', () => void this.mailbox.run(() => this.abortRound('cloud disconnected')));
    parent.on('gone', (reason: string) => this.emit('gone', reason));
    const peer = parent.peer;
    peer.on(EVENTS.welcome, (m) => this.onWelcome(m));
    peer.on(EVENTS.roundStart, (m) => this.onRoundStart(m));
    peer.on(EVENTS.gradients, (m) => this.onCloudGradients(m));
    peer.on(EVENTS.weightsDown, (m) => this.onWeightsDown(m));
    peer.on(EVENTS.runEnd, (m) => this.onRunEnd(m));
    peer.on(EVENTS.evalReport, (m) => {
      checkHeader(m.header, { runId: this.requirePlan().runId, planVersion: this.requirePlan().version });
      this.opts.log.info({ round: m.header.round, accuracy: m.accuracy, loss: m.loss }, 'global model scored');
      for (const link of this.children.all.values()) link.peer.send(EVENTS.evalReport, m);
    });
    peer.on(EVENTS.nodeStatus, (m) => this.onCloudNodeStatus(m));
    peer.on(EVENTS.revocations, (m) => this.onRevocations(m.serials));
    peer.on(EVENTS.capacityRequest, (m) => {
      checkCapacityRequest(m);
      for (const link of this.children.all.values()) link.peer.send(EVENTS.capacityRequest, m);
      void this.capacity!.report(m.model, m.batchSize, m.probeBytes || undefined);
    });
    parent.start();
  }

  private onWelcome(m: MessageOf<typeof EVENTS.welcome>): void {
    const plan = checkPlan(m.plan);
    if (plan.runId !== m.runId) throw new ProtocolError('malformed', 'the plan belongs to another run');
    const deviceWeights = m.deviceWeights.length ? checkWeights(m.deviceWeights, tierWeightShapes(plan.model, 0, plan.c1)) : [];
    const edgeWeights = m.edgeWeights.length ? checkWeights(m.edgeWeights, tierWeightShapes(plan.model, plan.c1, plan.c2)) : [];
    const newRun = m.runId !== this.plan?.runId;
    this.abortRound(newRun ? 'a new run begins' : 'the plan or the run state changed');
    if (!this.model || !this.model.holds(plan.model, plan.c1, plan.c2)) {
      this.model?.dispose();
      this.model = TierModel.create(plan.model, plan.c1, plan.c2, plan.seed);
    }
    if (edgeWeights.length) this.model.setWeights(edgeWeights);
    this.deviceWeights = deviceWeights.map((w) => w.slice());
    if (newRun) {
      this.removed.clear();
      this.misfits.newRun();
    }
    this.plan = plan;
    this.deviceSamples.reset();
    this.lastRound = m.nextRound - 1;
    this.opts.log.info({ runId: m.runId, plan: plan.version, c1: plan.c1, c2: plan.c2, i1: plan.i1, i2: plan.i2, nextRound: m.nextRound }, newRun ? 'joined run' : 'plan changed');
    this.welcomeDevices(this.sendAwayMisfits());
    if (newRun) void this.capacity!.report(plan.model, plan.batchSize);
  }

  private onRoundStart(m: MessageOf<typeof EVENTS.roundStart>): void {
    const plan = this.requirePlan();
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version });
    if (m.header.round <= this.lastRound) throw new ProtocolError('stale', `round ${m.header.round} is not after ${this.lastRound}`);
    this.abortRound('superseded by the next round');
    this.lastRound = m.header.round;
    const r: EdgeRound = {
      barrier: new RoundBarrier(m.header.round, this.children.all.keys()), syncDevices: m.syncDevices, syncEdges: m.syncEdges,
      slices: [], sentUp: 0, deviceCopies: new Map(), computeMs: 0, waitMs: 0, phaseStartedAt: performance.now(),
      bytesInAtStart: this.deviceBytes.bytesIn, bytesOutAtStart: this.deviceBytes.bytesOut,
    };
    this.round = r;
    const start = { header: headerFor(plan, r.barrier.round, this.opts.id), syncDevices: m.syncDevices, syncEdges: m.syncEdges };
    for (const id of r.barrier.expected) this.children.get(id)!.peer.send(EVENTS.roundStart, start);
    this.armDeadline(r);
    this.progress(r);
  }

  private onCloudGradients(m: MessageOf<typeof EVENTS.gradients>): void {
    const plan = this.requirePlan();
    const r = this.round;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: r?.barrier.round ?? -1 });
    if (!r || r.barrier.phase !== 'up') throw new ProtocolError('stale', `no activations outstanding for round ${m.header.round}`);
    const model = this.model!;
    const g = expectTensor(m.gradients, { shape: [r.sentUp, ...model.outputShape()], dtype: 'float32', finite: true });
    r.waitMs += performance.now() - r.phaseStartedAt;
    const t0 = performance.now();
    const dx = model.backward(g.data, plan.lr, true)!;
    r.computeMs += performance.now() - t0;
    r.phaseStartedAt = performance.now();
    const parts = splitBySlices(dx, model.inPerSample, r.slices);
    const codec = codecName(plan.codec);
    const header = headerFor(plan, r.barrier.round, this.opts.id);
    const sizes = new Map(r.slices.map((s) => [s.id, s.n]));
    for (const id of r.barrier.beginDown()) {
      const n = sizes.get(id)!;
      this.deviceSamples.add(id, n);
      this.children.get(id)!.peer.send(EVENTS.gradients, { header, gradients: encodeTensor(parts.get(id)!, [n, ...model.inputShape()], codec) });
    }
    this.armDeadline(r);
    this.progress(r);
  }

  private onWeightsDown(m: MessageOf<typeof EVENTS.weightsDown>): void {
    const plan = this.requirePlan();
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version });
    if (m.tier === Tier.TIER_DEVICE) {
      const ws = checkWeights(m.tensors, tierWeightShapes(plan.model, 0, plan.c1));
      this.deviceWeights = ws.map((w) => w.slice());
      for (const link of this.children.all.values()) {
        link.peer.send(EVENTS.weightsDown, { header: m.header, tier: Tier.TIER_DEVICE, tensors: m.tensors, samples: m.samples });
      }
    } else if (m.tier === Tier.TIER_EDGE) {
      this.model!.setWeights(checkWeights(m.tensors, this.model!.weightShapes()));
    } else {
      throw new ProtocolError('bad_shape', `an edge holds no tier ${m.tier} weights`);
    }
  }

  private onRunEnd(m: MessageOf<typeof EVENTS.runEnd>): void {
    if (m.runId !== this.plan?.runId) throw new ProtocolError('wrong_run', `run ${m.runId} is not this edge's run`);
    this.opts.log.info({ runId: m.runId, reason: m.reason }, 'run ended; waiting for the next one');
    this.abortRound('run ended');
    for (const link of this.children.all.values()) link.peer.send(EVENTS.runEnd, m);
    this.plan = undefined;
    this.emit('runEnd', m.reason);
  }

  /** The cloud removes a device (operator action): it is told so for good and kept out for the rest of the run. */
  private onCloudNodeStatus(m: MessageOf<typeof EVENTS.nodeStatus>): void {
    if (m.connected) throw new ProtocolError('malformed', 'the cloud only sends removals');
    checkNodeId(m.nodeId, 'device id');
    addBounded(this.removed, m.nodeId, MAX_REMOVED_IDS);
    const link = this.children.get(m.nodeId);
    if (!link) return;
    this.opts.log.warn({ device: m.nodeId, reason: m.reason }, 'device removed by the cloud');
    this.children.sendAway(link, m.reason || 'removed by the operator', true);
  }

  // ---- the device side ------------------------------------------------------

  private admit(hello: Hello, replacing: boolean): void {
    const id = hello.nodeId;
    const misfit = this.plan && this.misfits.check(hello, this.plan.model, this.plan.runId);
    if (misfit) throw new ProtocolError('bad_shape', `${misfit}; this device cannot join run ${this.plan!.runId}`);
    if (this.removed.has(id)) throw new ProtocolError('unauthorized', `device ${id} was removed from this run by the operator`);
    if (!replacing && this.children.all.size >= MAX_DEVICES_PER_EDGE) throw new ProtocolError('limit', `this edge already serves ${MAX_DEVICES_PER_EDGE} devices`);
  }

  private onDeviceJoin(link: ChildLink): void {
    if (!this.plan) {
      this.opts.log.info({ device: link.id }, 'device waiting for the run to be joined');
      return;
    }
    this.welcomeDevices([link]);
  }

  private onDeviceLeave(link: ChildLink, reason: string): void {
    this.opts.log.warn({ device: link.id, reason }, 'device left');
    this.reportDevice(link.hello, false, reason);
    const r = this.round;
    // Between rounds its samples are forgotten now; a round in progress still weighs what it sent (finishRound prunes).
    if (!r || r.barrier.phase === 'done') this.pruneSamples();
    if (!r) return;
    r.barrier.drop(link.id);
    this.progress(r);
  }

  /** Sends away (for now: a later run may fit) the devices whose data cannot train the run; returns the others. */
  private sendAwayMisfits(): ChildLink[] {
    const plan = this.plan!;
    const fit: ChildLink[] = [];
    for (const link of [...this.children.all.values()]) {
      const misfit = this.misfits.check(link.hello, plan.model, plan.runId);
      if (misfit) this.children.sendAway(link, `bad_shape: ${misfit}`, false);
      else fit.push(link);
    }
    return fit;
  }

  /** Welcomes devices to the run, encoding the device tier's weights once for all of them. */
  private welcomeDevices(links: Iterable<ChildLink>): void {
    const plan = this.plan!;
    const shapes = tierWeightShapes(plan.model, 0, plan.c1);
    const welcome = {
      runId: plan.runId, plan, nextRound: this.lastRound + 1, parentId: this.opts.id,
      deviceWeights: this.deviceWeights.map((w, i) => encodeTensor(w, shapes[i]!)), edgeWeights: [],
    };
    for (const link of links) {
      link.peer.send(EVENTS.welcome, welcome);
      this.opts.log.info({ device: link.id, backend: link.hello.backend, samples: link.hello.numSamples }, 'device joined');
      this.reportDevice(link.hello, true, 'joined');
    }
  }

  /** Tells the cloud about a device (by its hello: joined ones and refused ones alike). */
  private reportDevice(hello: Hello, connected: boolean, reason: string): void {
    this.parent?.send(EVENTS.nodeStatus, {
      nodeId: hello.nodeId, role: Role.ROLE_DEVICE, parentId: this.opts.id, connected, backend: hello.backend,
      numSamples: hello.numSamples, host: hello.host, reason,
    });
  }

  private onDeviceCapacity(link: ChildLink, m: MessageOf<typeof EVENTS.capacityReport>): void {
    if (m.nodeId !== link.id || m.role !== Role.ROLE_DEVICE) throw new ProtocolError('malformed', 'a device reports its own capacity only');
    checkCapacityRequest(m);
    checkCapacityFigures(m, modelInfo(m.model).numUnits);
    this.parent?.send(EVENTS.capacityReport, { ...m, parentId: this.opts.id });
  }

  private onDeviceActivations(link: ChildLink, m: MessageOf<typeof EVENTS.activations>): void {
    const plan = this.requirePlan();
    const r = this.round;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: r?.barrier.round ?? -1 });
    if (!r) throw new ProtocolError('stale', 'no round in progress');
    const a = expectTensor(m.activations, { shape: [null, ...this.model!.inputShape()], dtype: 'float32', finite: true });
    const n = a.shape[0]!;
    if (n < 1 || n > plan.batchSize) throw new ProtocolError('bad_shape', `batch of ${n} samples; the plan allows 1 to ${plan.batchSize}`);
    const y = checkLabels(m.labels, modelInfo(plan.model).numClasses, n);
    r.barrier.deliver(link.id, { id: link.id, x: a.data, y, n });
    this.progress(r);
  }

  private onDeviceWeights(link: ChildLink, m: MessageOf<typeof EVENTS.weightsUp>): void {
    const plan = this.requirePlan();
    const r = this.round;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: r?.barrier.round ?? -1 });
    if (!r || !r.syncDevices || !r.barrier.owes(link.id)) throw new ProtocolError('stale', `not expecting weights from ${link.id} now`);
    if (m.tier !== Tier.TIER_DEVICE) throw new ProtocolError('bad_shape', 'devices upload device-tier weights only');
    if (r.deviceCopies.has(link.id)) throw new ProtocolError('stale', `weights for round ${r.barrier.round} already received from ${link.id}`);
    r.deviceCopies.set(link.id, checkWeights(m.tensors, tierWeightShapes(plan.model, 0, plan.c1)));
  }

  private onDeviceRoundDone(link: ChildLink, m: MessageOf<typeof EVENTS.roundDone>): void {
    const plan = this.requirePlan();
    const r = this.round;
    checkHeader(m.header, { runId: plan.runId, planVersion: plan.version, round: r?.barrier.round ?? -1 });
    if (!r) throw new ProtocolError('stale', 'no round in progress');
    r.barrier.report(link.id, checkRoundDone(m, modelInfo(plan.model).numUnits));
    this.progress(r);
  }

  // ---- the round -----------------------------------------------------------------

  /** Moves the round on as far as what has arrived allows. */
  private progress(r: EdgeRound): void {
    if (this.round !== r) return;
    if (r.barrier.collectReady) this.forwardUp(r);
    else if (r.barrier.downReady) this.finishRound(r);
  }

  private forwardUp(r: EdgeRound): void {
    const plan = this.requirePlan();
    r.waitMs += performance.now() - r.phaseStartedAt;
    const parts = r.barrier.closeCollect('up').map((d) => d.payload);
    if (parts.length === 0) {
      this.sitOut(r, 'no device delivered activations');
      return;
    }
    const model = this.model!;
    const t0 = performance.now();
    const batch = concatSlices(parts);
    const y = model.forward(batch.x, batch.n);
    r.computeMs += performance.now() - t0;
    r.slices = batch.slices;
    r.sentUp = batch.n;
    r.phaseStartedAt = performance.now();
    this.parent!.send(EVENTS.activations, {
      header: headerFor(plan, r.barrier.round, this.opts.id),
      activations: encodeTensor(y, [batch.n, ...model.outputShape()], codecName(plan.codec)),
      labels: encodeTensor(batch.y, [batch.n]),
      slices: batch.slices.map((s) => ({ nodeId: s.id, samples: s.n })),
    });
    // The cloud's deadline governs the wait for its gradient.
    this.deadline.clear();
  }

  private finishRound(r: EdgeRound): void {
    const plan = this.requirePlan();
    this.deadline.clear();
    r.waitMs += performance.now() - r.phaseStartedAt;
    r.barrier.finish();
    const header = headerFor(plan, r.barrier.round, this.opts.id);
    if (r.syncDevices) {
      // Weighted by the samples this edge saw from each device, never by what a device claims.
      const copies = [...r.deviceCopies].map(([id, weights]) => ({ weights, samples: this.deviceSamples.of(id) })).filter((c) => c.samples > 0);
      if (copies.length) {
        const avg = aggregatorFor(plan.aggregator).combine(copies);
        const shapes = tierWeightShapes(plan.model, 0, plan.c1);
        this.parent!.send(EVENTS.weightsUp, {
          header, tier: Tier.TIER_DEVICE, tensors: avg.map((w, i) => encodeTensor(w, shapes[i]!)), samples: copies.reduce((a, c) => a + c.samples, 0),
        });
      }
      this.deviceSamples.reset();
    }
    const model = this.model!;
    if (r.syncEdges && !model.isEmpty) {
      const shapes = model.weightShapes();
      this.parent!.send(EVENTS.weightsUp, { header, tier: Tier.TIER_EDGE, tensors: model.getWeights().map((w, i) => encodeTensor(w, shapes[i]!)), samples: r.sentUp });
    }
    const reports = [...r.barrier.reports.values()];
    const gradSq = combineGradSq(plan, reports, model.lastUnitGradSq);
    this.parent!.send(EVENTS.roundDone, {
      header, samples: r.sentUp, computeMs: r.computeMs, maxChildComputeMs: reports.reduce((a, d) => Math.max(a, d.computeMs), 0),
      waitMs: r.waitMs, bytesDownUp: this.deviceBytes.bytesIn - r.bytesInAtStart, bytesDownDown: this.deviceBytes.bytesOut - r.bytesOutAtStart,
      late: [...r.barrier.late].sort(), gradSqStart: gradSq.start, gradSq: gradSq.values,
    });
    if (r.barrier.late.size) this.opts.log.warn({ round: r.barrier.round, late: [...r.barrier.late] }, 'devices missed the round');
    this.pruneSamples();
  }

  /** Keeps the sample ledger to the devices joined now (keyed by ids devices choose, so bounded by who is here). */
  private pruneSamples(): void {
    this.deviceSamples.retain((id) => this.children.get(id) !== undefined);
  }

  private sitOut(r: EdgeRound, why: string): void {
    this.deadline.clear();
    r.barrier.finish();
    this.opts.log.info({ round: r.barrier.round, why }, 'edge sits this round out');
    this.parent!.send(EVENTS.roundDone, {
      header: headerFor(this.requirePlan(), r.barrier.round, this.opts.id), samples: 0, computeMs: 0, maxChildComputeMs: 0, waitMs: r.waitMs,
      bytesDownUp: 0, bytesDownDown: 0, late: [...r.barrier.late].sort(),
    });
  }

  private armDeadline(r: EdgeRound): void {
    this.deadline.arm(this.requirePlan().deadlineMs || 30000, () => {
      void this.mailbox.run(() => {
        if (this.round !== r || r.barrier.phase === 'done' || r.barrier.phase === 'up') return;
        this.opts.log.warn({ round: r.barrier.round, phase: r.barrier.phase }, 'deadline: going on without the devices that have not answered');
        r.barrier.expire();
        this.progress(r);
      });
    });
  }

  private abortRound(why: string): void {
    const r = this.round;
    this.round = undefined;
    this.deadline.clear();
    this.model?.discard();
    if (r && r.barrier.phase !== 'done') this.opts.log.warn({ round: r.barrier.round, why }, 'round abandoned');
    r?.barrier.finish();
  }

  // ---- helpers ----------------------------------------------------------------

  private requirePlan(): Plan {
    if (!this.plan || !this.model) throw new ProtocolError('not_joined', 'the edge has not joined a run yet');
    return this.plan;
  }

  /** Largest message accepted: only small control messages until a plan is known (docs/protocol.md, Limits). */
  private messageLimit(): number {
    return planMessageLimit(this.plan, this.opts.maxBytes ?? MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES);
  }
}
