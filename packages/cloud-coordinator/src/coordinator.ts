import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import {
  EVENTS, Mailbox, Peer, ProtocolError, checkHeader, checkLabels, checkWeights, checkCapacityFigures, encodeTensor, expectTensor,
  MAX_MESSAGE_BYTES, MAX_DEVICES_PER_EDGE, Role, Tier, messageLimitFor, codecValue, codecName, answerProbes,
  type LogLike, type MessageOf,
} from '@hsfl/protocol';
import {
  tf, SubModel, fedAvg, modelInfo, assembleWeights, evaluate, exportCheckpoint, modelSizes, tierWeightShapes, measureCompute, modelProfile, concatBatches, type Dataset,
} from '@hsfl/runtime';
import { optimize, defaultSurrogateParams, shouldReplan, formatPlanReport, type PlanResult } from '@hsfl/planner';
import type { Store, RunRow } from './store/index.js';
import { buildTopology, type CapacitySnapshot } from './planning.js';
import { trialProblems, type TrialConfig } from './config.js';
import type { ActiveRun, CloudRound, Plan, PlanChange, RoundResult, RunSummary } from './run-state.js';

export type { Plan, PlanChange, RoundResult, RunSummary } from './run-state.js';

const NODE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a * b) / gcd(a, b);
}

function modelSizesProfile(model: string) {
  return modelProfile(model).units.map((u) => ({ name: u.name, paramBytes: u.paramBytes, outputBytesPerSample: u.outputBytesPerSample }));
}

export interface CoordinatorOptions {
  bindHost: string;
  port: number;
  token: string;
  store: Store;
  /** Held-out data the assembled model of a run is scored on. */
  testData: (model: string) => Dataset;
  log: LogLike;
  backend: string;
  /** Transport-level cap (socket.io maxHttpBufferSize); see docs/protocol.md. */
  maxBytes?: number;
  /** An existing HTTP server to attach to (the API and dashboard share it); one is created otherwise. */
  http?: HttpServer;
}

export interface DeviceInfo {
  id: string;
  edgeId: string;
  backend: string;
  samples: number;
  host: string;
}

export interface EdgeInfo {
  id: string;
  host: string;
  backend: string;
  devices: DeviceInfo[];
}

interface EdgeLink {
  id: string;
  socket: ServerSocket;
  peer: Peer;
  host: string;
  backend: string;
  devices: Map<string, DeviceInfo>;
}

/**
 * The cloud coordinator: a long-lived server that edges join, and the
 * driver of one training run at a time. It holds units [c2, L), drives
 * synchronous rounds, computes the loss, aggregates the lower tiers, scores
 * the assembled model and records everything in the store
 * (DESIGN §2 step 3, §6).
 *
 * Events: 'topology' (EdgeInfo[]), 'round' (RoundResult & test metrics),
 * 'status' ({ runId, status }), 'plan' (Plan), 'event' (a stored event row).
 */
export class Coordinator extends EventEmitter {
  private http?: HttpServer;
  private ownsHttp = false;
  private server?: Server;
  private readonly mailbox: Mailbox;
  private readonly edges = new Map<string, EdgeLink>();
  private readonly edgeBytes = { bytesIn: 0, bytesOut: 0 };
  private active?: ActiveRun;
  private round?: CloudRound;
  private wake?: () => void;
  /** The assembled model of the last run that ended, for inspection. */
  private lastGlobal?: Float32Array[];
  /** Latest measured capacity of every node that reported, the cloud's own included. */
  readonly capacity = new Map<string, CapacitySnapshot>();
  /** Devices the operator removed from the current run (their edge keeps them out). */
  private readonly removedDevices = new Set<string>();
  port = 0;

  constructor(private readonly opts: CoordinatorOptions) {
    super();
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'coordinator task failed'));
  }

  get store(): Store {
    return this.opts.store;
  }

  get dbPath(): string {
    return this.opts.store.path;
  }

  /** The run in progress, if any. */
  get runId(): string | undefined {
    return this.active?.id;
  }

  get plan(): Plan | undefined {
    return this.active?.plan;
  }

  get currentRound(): number | undefined {
    return this.active?.nextRound;
  }

  get paused(): boolean {
    return this.active?.paused ?? false;
  }

  /** The weights of the assembled global model (latest aggregates + the cloud's top). */
  globalWeights(): Float32Array[] {
    if (!this.active && this.lastGlobal) return this.lastGlobal.map((w) => w.slice());
    const a = this.requireActive();
    return assembleWeights(a.plan.model, a.plan.c1, a.plan.c2, a.deviceAvg, a.edgeAvg, a.top.getWeights());
  }

  topology(): EdgeInfo[] {
    return [...this.edges.values()]
      .map((e) => ({ id: e.id, host: e.host, backend: e.backend, devices: [...e.devices.values()].sort((a, b) => a.id.localeCompare(b.id)) }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  deviceCount(): number {
    let n = 0;
    for (const e of this.edges.values()) n += e.devices.size;
    return n;
  }

  async start(): Promise<number> {
    this.http = this.opts.http ?? createServer();
    this.ownsHttp = !this.opts.http;
    this.server = new Server(this.http, {
      maxHttpBufferSize: this.opts.maxBytes ?? MAX_MESSAGE_BYTES,
      serveClient: false,
      pingInterval: 5000,
      pingTimeout: 10000,
    });
    this.server.on('connection', (socket) => this.onConnection(socket));
    if (!this.http.listening) {
      await new Promise<void>((resolve, reject) => {
        this.http!.once('error', reject);
        this.http!.listen(this.opts.port, this.opts.bindHost, () => resolve());
      });
    }
    this.port = (this.http.address() as AddressInfo).port;
    this.opts.log.info({ port: this.port, host: this.opts.bindHost }, 'coordinator listening');
    return this.port;
  }

  async close(): Promise<void> {
    if (this.active) this.active.stopRequested = true;
    this.wake?.();
    await this.mailbox.run(() => this.abortRound());
    this.server?.disconnectSockets(true);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (!this.ownsHttp && this.http?.listening) {
      // socket.io closed the shared server too; nothing else to do.
    }
    this.active?.top.dispose();
  }

  // ---- runs ---------------------------------------------------------------

  /** Records a run from a trial description; it starts with startRun. */
  createRun(trial: TrialConfig): RunRow {
    let units: number;
    try {
      units = modelInfo(trial.model).numUnits;
    } catch (err) {
      throw new Error(`bad trial: ${(err as Error).message}`);
    }
    const problems = trialProblems(trial, units);
    if (problems.length) throw new Error(`bad trial: ${problems.join('; ')}`);
    return this.opts.store.createRun({ name: trial.name, config: trial });
  }

  /** Trains a created run to its end (or until stopped) and returns the outcome. */
  async startRun(runId: string): Promise<RunSummary> {
    if (this.active) throw new Error(`run ${this.active.id} is still in progress`);
    const row = this.opts.store.getRun(runId);
    if (!row) throw new Error(`no run ${runId}`);
    if (row.status !== 'created') throw new Error(`run ${runId} is ${row.status}; only a created run can start`);
    const trial = row.config as TrialConfig;
    const info = modelInfo(trial.model);
    const plan: Plan = {
      runId, version: 1, model: trial.model, c1: trial.c1, c2: trial.c2, i1: trial.i1, i2: trial.i2, batchSize: trial.batchSize,
      lr: trial.lr, rounds: trial.rounds, evalEvery: trial.evalEvery, codec: codecValue(trial.codec), seed: trial.seed, deadlineMs: trial.deadlineMs, aggregator: 'fedavg',
    };
    const dev = SubModel.create(trial.model, 0, trial.c1, trial.seed);
    const edge = SubModel.create(trial.model, trial.c1, trial.c2, trial.seed);
    const a: ActiveRun = {
      id: runId, trial, plan, top: SubModel.create(trial.model, trial.c2, info.numUnits, trial.seed),
      deviceAvg: dev.getWeights(), edgeAvg: edge.getWeights(), nextRound: 0, planSince: 0, paused: false, stopRequested: false,
      startedAt: Date.now(), recentRoundMs: [], lastPlannedRound: 0, fleetChanged: false,
      gradSq: { sum: new Array<number>(info.numUnits).fill(0), count: new Array<number>(info.numUnits).fill(0) },
    };
    a.top.trackGradNorms = true;
    dev.dispose();
    edge.dispose();
    this.active = a;
    this.removedDevices.clear();
    this.opts.store.addPlan({ runId, version: 1, plan, prediction: null, reason: 'configured' });
    this.event('info', 'run_created', `run ${runId} (${trial.name}) begins: ${trial.model}, cuts (${trial.c1}, ${trial.c2}), intervals (${trial.i1}, ${trial.i2})`, null, { plan });
    for (const e of this.edges.values()) {
      this.recordEdge(e);
      this.welcomeEdge(e);
    }
    this.emit('plan', plan);
    try {
      return await this.train(a);
    } finally {
      this.lastGlobal = this.globalWeights();
      a.top.dispose();
      this.active = undefined;
    }
  }

  /** createRun + startRun. */
  async runTrial(trial: TrialConfig): Promise<RunSummary> {
    return this.startRun(this.createRun(trial).id);
  }

  pause(): void {
    const a = this.requireActive();
    if (a.paused) return;
    a.paused = true;
    this.opts.store.setRunStatus(a.id, 'paused');
    this.event('info', 'paused', 'run paused by the operator');
    this.emit('status', { runId: a.id, status: 'paused' });
  }

  resume(): void {
    const a = this.requireActive();
    if (!a.paused) return;
    a.paused = false;
    this.opts.store.setRunStatus(a.id, 'running');
    this.event('info', 'resumed', 'run resumed by the operator');
    this.emit('status', { runId: a.id, status: 'running' });
    this.wake?.();
  }

  requestStop(): void {
    const a = this.requireActive();
    a.stopRequested = true;
    this.event('info', 'stop_requested', 'stop requested; the run ends after the current round');
    this.wake?.();
  }

  /**
   * Asks for a new plan. It takes effect after the next round, which is
   * forced to aggregate both tiers so that every tier is in sync when the
   * cuts move.
   */
  requestPlan(change: PlanChange, reason: string, prediction: unknown = null): void {
    const a = this.requireActive();
    const L = modelInfo(a.plan.model).numUnits;
    const ok = (v: number) => Number.isInteger(v);
    if (!ok(change.c1) || !ok(change.c2) || change.c1 < 0 || change.c1 > change.c2 || change.c2 > L) {
      throw new Error(`cuts must satisfy 0 <= c1 <= c2 <= ${L}; got c1=${change.c1}, c2=${change.c2}`);
    }
    if (!ok(change.i1) || !ok(change.i2) || change.i1 < 1 || change.i2 < 1 || change.i1 > 1000 || change.i2 > 1000) {
      throw new Error(`intervals must be whole numbers in [1, 1000]; got i1=${change.i1}, i2=${change.i2}`);
    }
    a.pendingPlan = { change: { ...change }, reason, prediction };
    this.event('info', 'plan_requested', `new plan requested (${reason}): cuts (${change.c1}, ${change.c2}), intervals (${change.i1}, ${change.i2})`);
    this.wake?.();
  }

  /** Removes a device from the federation for the rest of the run. */
  removeDevice(deviceId: string): void {
    const edge = [...this.edges.values()].find((e) => e.devices.has(deviceId));
    if (!edge) throw new Error(`no connected device ${deviceId}`);
    edge.peer.send(EVENTS.nodeStatus, {
      nodeId: deviceId, role: Role.ROLE_DEVICE, parentId: edge.id, connected: false, reason: 'removed by the operator',
    });
    this.removedDevices.add(deviceId);
    if (this.active) this.opts.store.setNodeStatus(this.active.id, deviceId, 'removed');
    this.event('warn', 'node_removed', `device ${deviceId} removed by the operator`, deviceId);
  }

  // ---- the training loop -------------------------------------------------------

  private async train(a: ActiveRun): Promise<RunSummary> {
    const t = a.trial;
    try {
      await this.waitForFleet(a);
      await this.measureCloud(a);
      if (t.planner === 'auto') {
        await this.waitForCapacity(a);
        // Plan from the measured capacity at once (the gradient statistics
        // still default to parameter shares), so the warm-up already runs on
        // a sensible split; the plan is refined after the warm-up.
        try {
          this.replan('initial plan from measured capacity');
        } catch (err) {
          this.event('warn', 'replan_failed', `no initial plan (${(err as Error).message}); warming up on the configured one`);
        }
      }
      this.opts.store.setRunStatus(a.id, 'running');
      this.opts.store.markPlanApplied(a.id, 1, 0);
      this.emit('status', { runId: a.id, status: 'running' });
      this.event('info', 'run_started', `training started with ${this.edges.size} edges and ${this.deviceCount()} devices`);
      for (let r = a.nextRound; r < t.rounds && !a.stopRequested; r++) {
        await this.waitUntilRunnable(a);
        if (a.stopRequested) break;
        const last = r === t.rounds - 1;
        const switching = a.pendingPlan !== undefined;
        const k = r - a.planSince + 1;
        const res = await this.runRound(r, last || switching || k % a.plan.i1 === 0, last || switching || k % a.plan.i2 === 0);
        a.nextRound = r + 1;
        if (res.samples === 0) {
          this.event('warn', 'empty_round', `round ${r}: no device delivered activations`);
          continue;
        }
        let test: { loss: number; accuracy: number } | undefined;
        if (last || (t.evalEvery > 0 && (r + 1) % t.evalEvery === 0) || switching) {
          test = this.evaluate(a);
          a.lastTest = { ...test, round: r };
          const report = { header: this.header(r), loss: test.loss, accuracy: test.accuracy, samples: this.opts.testData(a.plan.model).n };
          for (const e of this.edges.values()) e.peer.send(EVENTS.evalReport, report);
        }
        this.opts.store.addRoundMetrics(a.id, {
          ...res, planVersion: a.plan.version, testAccuracy: test?.accuracy ?? null, testLoss: test?.loss ?? null, endedAt: Date.now(),
        });
        this.emit('round', { ...res, runId: a.id, rounds: t.rounds, planVersion: a.plan.version, testAccuracy: test?.accuracy, testLoss: test?.loss, wallMs: Date.now() - a.startedAt });
        if (switching) this.applyPendingPlan(a, r + 1);
        else this.maybeReplan(a, r, res.roundMs);
        if (t.targetAccuracy && test && test.accuracy >= t.targetAccuracy) {
          this.event('info', 'target_reached', `test accuracy ${test.accuracy.toFixed(4)} reached the target ${t.targetAccuracy} at round ${r}`);
          break;
        }
      }
      const final = a.lastTest && a.lastTest.round === a.nextRound - 1 ? a.lastTest : { ...this.evaluate(a), round: a.nextRound - 1 };
      const status = a.stopRequested ? 'stopped' : 'completed';
      this.saveFinal(a, final.accuracy);
      this.opts.store.setRunStatus(a.id, status, { finalAccuracy: final.accuracy, finalLoss: final.loss });
      this.event('info', 'run_finished', `run ${status} after ${a.nextRound} rounds: test accuracy ${final.accuracy.toFixed(4)}`);
      this.broadcastEnd(a, status);
      this.emit('status', { runId: a.id, status });
      return { runId: a.id, status, rounds: a.nextRound, testAccuracy: final.accuracy, testLoss: final.loss, plan: a.plan, dbPath: this.dbPath, wallMs: Date.now() - a.startedAt };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.store.setRunStatus(a.id, 'failed', { error: message });
      this.event('error', 'run_failed', message);
      this.broadcastEnd(a, 'failed');
      this.emit('status', { runId: a.id, status: 'failed' });
      throw err;
    }
  }

  /** Moves weights between tiers to the new cuts; called right after a round that synced every tier. */
  private applyPendingPlan(a: ActiveRun, atRound: number): void {
    const p = a.pendingPlan!;
    a.pendingPlan = undefined;
    const global = this.globalWeights();
    const L = modelInfo(a.plan.model).numUnits;
    const nDev = tierWeightShapes(a.plan.model, 0, p.change.c1).length;
    const nEdge = tierWeightShapes(a.plan.model, p.change.c1, p.change.c2).length;
    const plan: Plan = { ...a.plan, ...p.change, version: a.plan.version + 1 };
    const top = SubModel.create(plan.model, plan.c2, L, plan.seed);
    top.setWeights(global.slice(nDev + nEdge));
    a.top.dispose();
    a.top = top;
    a.deviceAvg = global.slice(0, nDev);
    a.edgeAvg = global.slice(nDev, nDev + nEdge);
    a.plan = plan;
    a.planSince = atRound;
    this.opts.store.addPlan({ runId: a.id, version: plan.version, plan, prediction: p.prediction, reason: p.reason });
    this.opts.store.markPlanApplied(a.id, plan.version, atRound);
    // The assembled model is the same before and after the move; scoring it
    // here shows that moving weights between tiers loses nothing.
    const after = this.evaluate(a);
    this.event('info', 'plan_applied', `plan v${plan.version} applied at round ${atRound} (${p.reason}): cuts (${plan.c1}, ${plan.c2}), intervals (${plan.i1}, ${plan.i2}); test accuracy after the move ${after.accuracy.toFixed(4)}`, null, { plan, testAccuracyAfter: after.accuracy, testAccuracyBefore: a.lastTest?.accuracy ?? null });
    for (const e of this.edges.values()) this.welcomeEdge(e);
    this.emit('plan', plan);
  }

  private async waitForFleet(a: ActiveRun): Promise<void> {
    const t = a.trial;
    const deadline = Date.now() + t.joinTimeoutMs;
    while (this.edges.size < t.minEdges || this.deviceCount() < t.minDevices) {
      if (a.stopRequested) throw new Error('stopped before the fleet assembled');
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`only ${this.edges.size}/${t.minEdges} edges and ${this.deviceCount()}/${t.minDevices} devices joined within ${t.joinTimeoutMs} ms`);
      }
      await this.sleepUntilWoken(left);
    }
  }

  /** With the planner on, every node must have measured itself before training starts. */
  private async waitForCapacity(a: ActiveRun): Promise<void> {
    const deadline = Date.now() + a.trial.joinTimeoutMs;
    let missing = this.missingCapacity();
    while (missing.length && !a.stopRequested) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.event('warn', 'capacity_missing', `no capacity report from ${missing.join(', ')}; planning without them`);
        return;
      }
      await this.sleepUntilWoken(Math.min(left, 1000));
      missing = this.missingCapacity();
    }
    this.event('info', 'capacity_ready', `capacity measured for ${this.capacity.size} nodes`);
  }

  private async waitUntilRunnable(a: ActiveRun): Promise<void> {
    while (!a.stopRequested && (a.paused || this.deviceCount() === 0)) {
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
        this.event('warn', 'auth_failed', `wrong join token from ${m.nodeId || 'unknown'} at ${socket.handshake.address}`);
        setTimeout(() => socket.disconnect(true), 200);
        throw new ProtocolError('unauthorized', 'wrong join token');
      }
      if (m.role !== Role.ROLE_EDGE) throw new ProtocolError('malformed', 'only edge aggregators join the cloud');
      if (!NODE_ID.test(m.nodeId)) throw new ProtocolError('malformed', 'node id must be 1-64 characters of [A-Za-z0-9._:-]');
      if (link) throw new ProtocolError('malformed', 'already joined on this connection');
      const previous = this.edges.get(m.nodeId);
      if (previous) {
        this.dropEdge(previous, 'replaced by a new connection');
        previous.socket.disconnect(true);
      }
      link = { id: m.nodeId, socket, peer, host: m.host, backend: m.backend, devices: new Map() };
      this.edges.set(link.id, link);
      this.recordEdge(link);
      this.event('info', 'node_joined', `edge ${link.id} joined`, link.id);
      if (this.active) {
        this.active.fleetChanged = true;
        this.welcomeEdge(link);
      }
      this.emit('topology', this.topology());
      this.wake?.();
    });
    peer.on(EVENTS.nodeStatus, (m) => this.onNodeStatus(this.joined(link), m));
    peer.on(EVENTS.activations, (m) => this.onActivations(this.joined(link), m));
    peer.on(EVENTS.weightsUp, (m) => this.onWeightsUp(this.joined(link), m));
    peer.on(EVENTS.roundDone, (m) => this.onRoundDone(this.joined(link), m));
    peer.on(EVENTS.capacityReport, (m) => this.onCapacity(this.joined(link), m));
    answerProbes(socket, this.opts.log);
    socket.on('disconnect', (reason) => {
      void this.mailbox.run(() => {
        if (link && this.edges.get(link.id) === link) this.dropEdge(link, reason);
      });
    });
  }

  private welcomeEdge(e: EdgeLink): void {
    const a = this.active!;
    e.peer.send(EVENTS.welcome, {
      runId: a.id, plan: a.plan, nextRound: a.nextRound, parentId: 'cloud',
      deviceWeights: this.encodeTier(a.deviceAvg, 0, a.plan.c1),
      edgeWeights: this.encodeTier(a.edgeAvg, a.plan.c1, a.plan.c2),
    });
  }

  private recordEdge(e: EdgeLink): void {
    if (!this.active) return;
    const runId = this.active.id;
    this.opts.store.upsertNode({ runId, nodeId: e.id, role: 'edge', parentId: 'cloud', backend: e.backend, host: e.host, status: 'connected', samples: null });
    for (const d of e.devices.values()) {
      this.opts.store.upsertNode({ runId, nodeId: d.id, role: 'device', parentId: e.id, backend: d.backend, host: d.host, status: 'connected', samples: d.samples });
    }
  }

  private joined(link: EdgeLink | undefined): EdgeLink {
    if (!link || this.edges.get(link.id) !== link) throw new ProtocolError('not_joined', 'send hello first');
    return link;
  }

  private dropEdge(link: EdgeLink, reason: string): void {
    this.edges.delete(link.id);
    if (this.active) this.active.fleetChanged = true;
    if (this.active) {
      this.opts.store.setNodeStatus(this.active.id, link.id, 'disconnected');
      for (const id of link.devices.keys()) this.opts.store.setNodeStatus(this.active.id, id, 'disconnected');
    }
    this.event('warn', 'node_left', `edge ${link.id} left: ${reason}`, link.id);
    this.emit('topology', this.topology());
    const r = this.round;
    if (!r || r.phase === 'done') return;
    r.expected.delete(link.id);
    r.awaitingDone.delete(link.id);
    if (r.phase === 'collect') this.maybeCompute(r);
    else if (r.awaitingDone.size === 0) this.finishRound(r);
  }

  private onNodeStatus(link: EdgeLink, m: MessageOf<typeof EVENTS.nodeStatus>): void {
    if (!NODE_ID.test(m.nodeId)) throw new ProtocolError('malformed', 'bad node id');
    if (m.role !== Role.ROLE_DEVICE) throw new ProtocolError('malformed', 'edges report devices only');
    if (m.connected) {
      const known = link.devices.has(m.nodeId);
      if (!known && link.devices.size >= MAX_DEVICES_PER_EDGE) throw new ProtocolError('limit', 'too many devices under one edge');
      link.devices.set(m.nodeId, { id: m.nodeId, edgeId: link.id, backend: m.backend, samples: m.numSamples, host: m.host });
      if (this.active) {
        this.opts.store.upsertNode({ runId: this.active.id, nodeId: m.nodeId, role: 'device', parentId: link.id, backend: m.backend, host: m.host, status: 'connected', samples: m.numSamples });
      }
      if (!known) {
        this.event('info', 'node_joined', `device ${m.nodeId} joined edge ${link.id}`, m.nodeId);
        if (this.active) this.active.fleetChanged = true;
      }
    } else {
      if (!link.devices.delete(m.nodeId)) return;
      if (this.active) this.active.fleetChanged = true;
      if (this.active && !this.removedDevices.has(m.nodeId)) this.opts.store.setNodeStatus(this.active.id, m.nodeId, 'disconnected');
      this.event('warn', 'node_left', `device ${m.nodeId} left edge ${link.id}: ${m.reason}`, m.nodeId);
    }
    this.emit('topology', this.topology());
    this.wake?.();
  }

  // ---- capacity and planning ----------------------------------------------

  private onCapacity(link: EdgeLink, m: MessageOf<typeof EVENTS.capacityReport>): void {
    const own = m.role === Role.ROLE_EDGE && m.nodeId === link.id;
    const child = m.role === Role.ROLE_DEVICE && m.parentId === link.id && link.devices.has(m.nodeId);
    if (!own && !child) throw new ProtocolError('malformed', `edge ${link.id} may report only itself and its own devices`);
    let L: number;
    try {
      L = modelInfo(m.model).numUnits;
    } catch {
      throw new ProtocolError('malformed', `unknown model ${m.model}`);
    }
    checkCapacityFigures(m, L);
    const snap: CapacitySnapshot = {
      nodeId: m.nodeId, role: own ? 'edge' : 'device', parentId: own ? 'cloud' : link.id, backend: m.backend, host: m.host, model: m.model,
      batchSize: m.batchSize, fwdMsPerSample: [...m.fwdMsPerSample], bwdMsPerSample: [...m.bwdMsPerSample], peakBytes: [...m.peakBytes],
      memTotalBytes: m.memTotalBytes, memFreeBytes: m.memFreeBytes, upBytesPerSec: m.upBytesPerSec, downBytesPerSec: m.downBytesPerSec,
      rttMs: m.rttMs, cpus: m.cpus, measuredAtMs: m.measuredAtMs,
    };
    this.capacity.set(snap.nodeId, snap);
    this.opts.store.addCapacity(this.active?.id ?? null, snap.nodeId, snap);
    this.emit('capacity', snap);
    this.wake?.();
  }

  /** Asks every node to measure itself again (compute, memory, link). */
  requestCapacity(): void {
    const a = this.requireActive();
    for (const e of this.edges.values()) e.peer.send(EVENTS.capacityRequest, { model: a.plan.model, batchSize: a.plan.batchSize, probeBytes: 256 * 1024 });
    void this.measureCloud(a);
  }

  private async measureCloud(a: ActiveRun): Promise<void> {
    const batch = a.plan.batchSize * Math.max(1, this.deviceCount());
    const c = await measureCompute(a.plan.model, batch);
    const snap: CapacitySnapshot = {
      nodeId: 'cloud', role: 'cloud', parentId: '', backend: this.opts.backend, host: 'cloud', model: a.plan.model, batchSize: batch,
      fwdMsPerSample: c.fwdMsPerSample, bwdMsPerSample: c.bwdMsPerSample, peakBytes: c.peakBytes, memTotalBytes: c.memTotalBytes,
      memFreeBytes: c.memFreeBytes, upBytesPerSec: 0, downBytesPerSec: 0, rttMs: 0, cpus: c.cpus, measuredAtMs: Date.now(),
    };
    this.capacity.set('cloud', snap);
    this.opts.store.addCapacity(a.id, 'cloud', snap);
    this.emit('capacity', snap);
  }

  /** Nodes of the current fleet (and the cloud) without a capacity report for the run's model. */
  missingCapacity(): string[] {
    const a = this.requireActive();
    return buildTopology(a.plan.model, a.plan.batchSize, { edges: this.topology() }, this.capacity).missing;
  }

  /**
   * Chooses cuts and intervals for the current fleet from its measured
   * capacity and the warm-up gradient statistics (DESIGN §4), and applies
   * the plan at the next round where all tiers are in sync if it differs
   * from the current one.
   */
  replan(reason: string): PlanResult {
    const a = this.requireActive();
    const { topology, missing } = buildTopology(a.plan.model, a.plan.batchSize, { edges: this.topology() }, this.capacity);
    if (missing.length) throw new Error(`no capacity measured yet for ${missing.join(', ')}`);
    if (topology.devices.length === 0) throw new Error('no devices to plan for');
    const params = this.surrogate(a);
    const result = optimize(topology, params, { minC1: 1 });
    const prediction = {
      G2: params.G2,
      predictedRoundMs: result.predictedRoundMs, rounds: result.rounds, objective: result.objective, breakdown: result.breakdown,
      runnersUp: result.runnersUp, report: formatPlanReport(result, topology),
    };
    a.prediction = { planVersion: a.plan.version + (this.samePlan(a, result) ? 0 : 1), predictedRoundMs: result.predictedRoundMs, since: a.nextRound + 1 };
    a.lastPlannedRound = a.nextRound;
    a.fleetChanged = false;
    if (this.samePlan(a, result)) {
      this.opts.store.addEvent({ runId: a.id, level: 'info', kind: 'plan_kept', nodeId: null, message: `planner (${reason}) keeps cuts (${a.plan.c1}, ${a.plan.c2}), intervals (${a.plan.i1}, ${a.plan.i2}); predicted ${result.predictedRoundMs.toFixed(1)} ms/round`, data: prediction });
      a.prediction.since = a.nextRound;
    } else {
      this.requestPlan({ c1: result.plan.c1, c2: result.plan.c2, i1: result.plan.i1, i2: result.plan.i2 }, `planner: ${reason}`, prediction);
    }
    this.emit('replan', { reason, result });
    return result;
  }

  private samePlan(a: ActiveRun, r: PlanResult): boolean {
    return a.plan.c1 === r.plan.c1 && a.plan.c2 === r.plan.c2 && a.plan.i1 === r.plan.i1 && a.plan.i2 === r.plan.i2;
  }

  /** The convergence surrogate: defaults, with the layer profile of the gradient second moments measured in warm-up. */
  private surrogate(a: ActiveRun) {
    const units = modelSizesProfile(a.plan.model);
    const params = defaultSurrogateParams(units);
    const g = a.gradSq;
    if (g.count.every((c) => c > 0)) {
      // Only the shape across layers is measured; the scale stays the
      // calibrated one (docs/planner.md): normalise to sum 1.
      const means = g.sum.map((s, j) => s / g.count[j]!);
      const total = means.reduce((x, y) => x + y, 0);
      if (total > 0) params.G2 = means.map((v) => v / total);
    }
    return params;
  }

  private recordGradSq(a: ActiveRun, start: number, values: readonly number[]): void {
    values.forEach((v, i) => {
      const j = start + i;
      if (j < a.gradSq.sum.length && Number.isFinite(v) && v >= 0) {
        a.gradSq.sum[j]! += v;
        a.gradSq.count[j]! += 1;
      }
    });
  }

  /** Called after every round of a run with the planner on. */
  private maybeReplan(a: ActiveRun, r: number, roundMs: number): void {
    if (a.trial.planner !== 'auto' || a.pendingPlan) return;
    const t = a.trial;
    let reason: string | undefined;
    if (r + 1 === t.warmupRounds) reason = 'after warm-up';
    else if (r + 1 > t.warmupRounds && a.fleetChanged) reason = 'the fleet changed';
    else if (a.prediction && a.plan.version === a.prediction.planVersion && r >= a.prediction.since) {
      // Sync rounds are longer than the others, and the prediction is the
      // mean over a whole aggregation cycle: compare means over whole cycles.
      const cycle = Math.min(30, lcm(a.plan.i1, a.plan.i2));
      a.recentRoundMs.push(roundMs);
      if (a.recentRoundMs.length > Math.max(3 * cycle, 12)) a.recentRoundMs.shift();
      const cycles = Math.floor(a.recentRoundMs.length / cycle);
      if (cycles >= 2 && a.recentRoundMs.length >= 10 && r - a.lastPlannedRound >= 30) {
        const recent = a.recentRoundMs.slice(a.recentRoundMs.length - cycles * cycle);
        const means = Array.from({ length: cycles }, (_, k) => recent.slice(k * cycle, (k + 1) * cycle).reduce((x, y) => x + y, 0) / cycle);
        if (shouldReplan(a.prediction.predictedRoundMs, means, t.replanThreshold)) {
          reason = `round time drifted from the predicted ${a.prediction.predictedRoundMs.toFixed(0)} ms`;
        }
      }
    }
    if (!reason) return;
    try {
      this.replan(reason);
      a.recentRoundMs = [];
    } catch (err) {
      this.event('warn', 'replan_failed', `could not re-plan (${reason}): ${(err as Error).message}`);
      if (r + 1 === t.warmupRounds) a.fleetChanged = true;
    }
  }

  // ---- rounds -------------------------------------------------------------

  private runRound(round: number, syncDevices: boolean, syncEdges: boolean): Promise<RoundResult> {
    return new Promise<RoundResult>((resolve) => {
      void this.mailbox.run(() => {
        const now = performance.now();
        const r: CloudRound = {
          round, syncDevices, syncEdges, phase: 'collect', startedAt: now, phaseStartedAt: now,
          expected: new Set(this.edges.keys()), acts: new Map(), satOut: new Set(), slices: [], awaitingDone: new Set(),
          done: new Map(), deviceAvgs: new Map(), edgeCopies: new Map(), loss: 0, correct: 0, samples: 0, participants: 0,
          computeMs: 0, waitMs: 0, bytesInAtStart: this.edgeBytes.bytesIn, bytesOutAtStart: this.edgeBytes.bytesOut, resolve,
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
    const a = this.requireRunning();
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'activations without header');
    checkHeader(m.header, { runId: a.id, planVersion: a.plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'collect' || !r.expected.has(link.id)) throw new ProtocolError('stale', `round ${m.header.round} is no longer collecting from ${link.id}`);
    if (r.acts.has(link.id) || r.satOut.has(link.id)) throw new ProtocolError('stale', `activations for round ${r.round} already received from ${link.id}`);
    const act = expectTensor(m.activations, { shape: [null, ...a.top.inputShape()], dtype: 'float32', finite: true });
    const n = act.shape[0]!;
    const sliceTotal = m.slices.reduce((s, x) => s + x.samples, 0);
    if (n < 1 || m.slices.length > MAX_DEVICES_PER_EDGE || sliceTotal !== n || m.slices.some((s) => s.samples < 1 || s.samples > a.plan.batchSize)) {
      throw new ProtocolError('bad_shape', `${n} samples in ${m.slices.length} slices summing to ${sliceTotal} do not fit batch size ${a.plan.batchSize}`);
    }
    const labels = checkLabels(m.labels, modelInfo(a.plan.model).numClasses, n);
    r.acts.set(link.id, { data: act.data, labels, n, slices: m.slices.length });
    this.maybeCompute(r);
  }

  private onRoundDone(link: EdgeLink, m: MessageOf<typeof EVENTS.roundDone>): void {
    const a = this.requireRunning();
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'round done without header');
    checkHeader(m.header, { runId: a.id, planVersion: a.plan.version, round: r?.round ?? -1 });
    if (!r) throw new ProtocolError('stale', 'no round in progress');
    if (r.phase === 'collect' && r.expected.has(link.id) && !r.acts.has(link.id) && !r.satOut.has(link.id) && m.samples === 0) {
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
    const a = this.requireRunning();
    const r = this.round;
    if (!m.header) throw new ProtocolError('malformed', 'weights without header');
    checkHeader(m.header, { runId: a.id, planVersion: a.plan.version, round: r?.round ?? -1 });
    if (!r || r.phase !== 'down' || !r.awaitingDone.has(link.id)) throw new ProtocolError('stale', `not expecting weights from ${link.id} now`);
    if (!(m.samples > 0)) throw new ProtocolError('bad_shape', 'weights must carry a positive sample count');
    if (m.tier === Tier.TIER_DEVICE) {
      if (!r.syncDevices) throw new ProtocolError('stale', `round ${r.round} does not aggregate devices`);
      if (r.deviceAvgs.has(link.id)) throw new ProtocolError('stale', 'device weights already received');
      r.deviceAvgs.set(link.id, { ws: checkWeights(m.tensors, tierWeightShapes(a.plan.model, 0, a.plan.c1)), samples: m.samples });
    } else if (m.tier === Tier.TIER_EDGE) {
      if (!r.syncEdges) throw new ProtocolError('stale', `round ${r.round} does not aggregate edges`);
      if (r.edgeCopies.has(link.id)) throw new ProtocolError('stale', 'edge weights already received');
      r.edgeCopies.set(link.id, { ws: checkWeights(m.tensors, tierWeightShapes(a.plan.model, a.plan.c1, a.plan.c2)), samples: m.samples });
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
    const a = this.active!;
    r.phase = 'down';
    const ids = [...r.acts.keys()].sort();
    const inShape = a.top.inputShape();
    const per = inShape.reduce((x, y) => x * y, 1);
    const total = ids.reduce((x, id) => x + r.acts.get(id)!.n, 0);
    const t0 = performance.now();
    const { x: xData, y: labels } = concatBatches(ids.map((id) => { const p = r.acts.get(id)!; return { x: p.data, y: p.labels, n: p.n }; }));
    r.slices = ids.map((id) => ({ id, n: r.acts.get(id)!.n }));
    r.participants = ids.reduce((x, id) => x + r.acts.get(id)!.slices, 0);
    r.acts.clear();
    const x = tf.tensor(xData, [total, ...inShape]);
    const y = tf.tensor1d(labels, 'int32');
    const out = a.top.trainTop(x, y, a.plan.lr, true);
    x.dispose();
    y.dispose();
    const dx = out.dxSum ? (out.dxSum.dataSync() as Float32Array) : new Float32Array(total * per);
    out.dxSum?.dispose();
    r.loss = out.lossSum;
    r.correct = out.correct;
    r.samples = total;
    r.computeMs += performance.now() - t0;
    r.phaseStartedAt = performance.now();
    let off = 0;
    for (const s of r.slices) {
      const link = this.edges.get(s.id);
      const slice = dx.subarray(off * per, (off + s.n) * per);
      off += s.n;
      if (!link) continue;
      r.awaitingDone.add(s.id);
      link.peer.send(EVENTS.gradients, { header: this.header(r.round), gradients: encodeTensor(slice, [s.n, ...inShape], codecName(a.plan.codec)) });
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
    const a = this.active!;
    const header = this.header(r.round);
    const t0 = performance.now();
    if (r.syncDevices && r.deviceAvgs.size > 0) {
      const copies = [...r.deviceAvgs.values()];
      a.deviceAvg = fedAvg(copies.map((c) => c.ws), copies.map((c) => c.samples));
      const tensors = this.encodeTier(a.deviceAvg, 0, a.plan.c1);
      const samples = copies.reduce((x, c) => x + c.samples, 0);
      for (const e of this.edges.values()) e.peer.send(EVENTS.weightsDown, { header, tier: Tier.TIER_DEVICE, tensors, samples });
    }
    if (r.syncEdges && r.edgeCopies.size > 0) {
      const copies = [...r.edgeCopies.values()];
      a.edgeAvg = fedAvg(copies.map((c) => c.ws), copies.map((c) => c.samples));
      const tensors = this.encodeTier(a.edgeAvg, a.plan.c1, a.plan.c2);
      const samples = copies.reduce((x, c) => x + c.samples, 0);
      for (const e of this.edges.values()) e.peer.send(EVENTS.weightsDown, { header, tier: Tier.TIER_EDGE, tensors, samples });
    }
    r.computeMs += performance.now() - t0;
    const done = [...r.done.values()];
    if (r.samples > 0) {
      for (const d of done) this.recordGradSq(a, d.gradSqStart, d.gradSq);
      if (a.top.lastUnitGradSq) this.recordGradSq(a, a.plan.c2, a.top.lastUnitGradSq);
    }
    const late = new Set<string>();
    for (const d of done) for (const id of d.late) late.add(id);
    r.resolve({
      round: r.round,
      samples: r.samples,
      loss: r.samples ? r.loss / r.samples : 0,
      trainAccuracy: r.samples ? r.correct / r.samples : 0,
      roundMs: performance.now() - r.startedAt,
      deviceComputeMs: done.reduce((x, d) => Math.max(x, d.maxChildComputeMs), 0),
      edgeComputeMs: done.reduce((x, d) => Math.max(x, d.computeMs), 0),
      cloudComputeMs: r.computeMs,
      edgeWaitMs: done.reduce((x, d) => Math.max(x, d.waitMs), 0),
      cloudWaitMs: r.waitMs,
      bytesDeviceEdgeUp: done.reduce((x, d) => x + d.bytesDownUp, 0),
      bytesEdgeDeviceDown: done.reduce((x, d) => x + d.bytesDownDown, 0),
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
    // The cloud waits longer than the edges so that an edge's own deadline
    // fires first and it can still report with the devices it has.
    const ms = (this.active!.plan.deadlineMs || 30000) * 1.5;
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

  private evaluate(a: ActiveRun): { loss: number; accuracy: number } {
    const res = evaluate(a.plan.model, this.globalWeights(), this.opts.testData(a.plan.model));
    return { loss: res.loss, accuracy: res.accuracy };
  }

  private saveFinal(a: ActiveRun, accuracy: number): void {
    const ckpt = exportCheckpoint(a.plan.model, this.globalWeights());
    this.opts.store.saveCheckpoint({
      runId: a.id, round: a.nextRound, kind: 'final', modelJson: ckpt.modelJson,
      weights: Buffer.from(ckpt.weightsBin.buffer, ckpt.weightsBin.byteOffset, ckpt.weightsBin.byteLength), accuracy,
    });
  }

  private broadcastEnd(a: ActiveRun, reason: string): void {
    for (const e of this.edges.values()) e.peer.send(EVENTS.runEnd, { runId: a.id, reason });
  }

  // ---- helpers -----------------------------------------------------------

  private requireActive(): ActiveRun {
    if (!this.active) throw new Error('no run in progress');
    return this.active;
  }

  private requireRunning(): ActiveRun {
    if (!this.active) throw new ProtocolError('stale', 'no run in progress');
    return this.active;
  }

  private encodeTier(ws: Float32Array[], start: number, end: number) {
    const shapes = tierWeightShapes(this.active!.plan.model, start, end);
    return ws.map((w, i) => encodeTensor(w, shapes[i]!));
  }

  private header(round: number) {
    const a = this.active!;
    return { runId: a.id, planVersion: a.plan.version, round, sender: 'cloud' };
  }

  /** Largest message accepted under the current plan (docs/protocol.md, Limits). */
  private messageLimit(): number {
    const transport = this.opts.maxBytes ?? MAX_MESSAGE_BYTES;
    const a = this.active;
    if (!a) return Math.min(transport, 1024 * 1024);
    return Math.min(transport, messageLimitFor({ batchSize: a.plan.batchSize, devices: MAX_DEVICES_PER_EDGE, ...modelSizes(a.plan.model, a.plan) }));
  }

  private event(level: 'debug' | 'info' | 'warn' | 'error', kind: string, message: string, nodeId: string | null = null, data: unknown = null): void {
    const runId = this.active?.id ?? null;
    const id = this.opts.store.addEvent({ runId, level, kind, nodeId, message, data });
    this.opts.log[level]({ kind, nodeId, runId }, message);
    this.emit('event', { id, runId, at: Date.now(), level, kind, nodeId, message, data });
  }
}
