import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  EVENTS, Mailbox, ProtocolError, encodeTensor, MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, CLOUD_ID, Role,
  type LogLike, type MessageInitOf,
} from '@hsfl/protocol';
import { modelInfo, tierWeightShapes, type Dataset } from '@hsfl/runtime';
import { SampleLedger, createLinkServer, planMessageLimit, type ChildLink, type LinkLimits } from '@hsfl/tier-engine';
import type { PlanResult } from '@hsfl/planner';
import type { Store, RunRow } from './store/index.js';
import { buildTopology } from './planning.js';
import { planChangeProblems, trialProblems, type TrialConfig } from './config.js';
import { Waker } from './waker.js';
import { CoordinatorError } from './errors.js';
import { RunDriver, loopState, type DriverHost } from './run-driver.js';
import { Fleet, type EdgeInfo } from './fleet.js';
import { Enrollment, type CoordinatorPki } from './enrollment.js';
import type { CloudRound } from './cloud-round.js';
import { RunPlanner, initialPlannerState, type PlanDecision } from './run-planner.js';
import { capacitySnapshot, measureCloud } from './capacity.js';
import { CapacityBook } from './capacity-book.js';
import { assembled, fromCheckpoint, initialSynced, toCheckpoint, topModelOf } from './checkpoints.js';
import type { ActiveRun, LoopState, Plan, PlanChange, RunSummary, SyncedModel } from './run-state.js';

export type { Plan, PlanChange, RoundResult, RunSummary } from './run-state.js';
export type { DeviceInfo, EdgeInfo } from './fleet.js';

export interface CoordinatorOptions {
  bindHost: string;
  port: number;
  /** The shared join token of insecure mode (no pki). */
  token: string;
  /** TLS identities: edges prove their ids with certificates of this project CA (the token is then unused). */
  pki?: CoordinatorPki;
  store: Store;
  /** Held-out data the assembled model of a run is scored on. */
  testData: (model: string) => Dataset;
  log: LogLike;
  backend: string;
  /** Transport-level cap (socket.io maxHttpBufferSize); see docs/protocol.md. */
  maxBytes?: number;
  /** An existing HTTP server to attach to (the API and dashboard share it); one is created otherwise. */
  http?: HttpServer;
  /** Most edges joined at once (default 256); bounds what is kept per edge. */
  maxEdges?: number;
  /** An edge connection that has not said hello by then is closed (default 5 s). */
  helloTimeoutMs?: number;
  /** Overrides of the edge port's limits (DEFAULT_LINK_LIMITS; docs/protocol.md, "Limits"). */
  linkLimits?: Partial<LinkLimits>;
}

/**
 * The cloud coordinator: a long-lived server that edges join, and the
 * driver of one training run at a time. It holds units [c2, L), drives
 * synchronous rounds, computes the loss, aggregates the lower tiers, scores
 * the assembled model and records everything in the store, with a
 * checkpoint at every full-sync round that a restarted coordinator resumes
 * from (DESIGN §2, §6).
 *
 * Events: 'topology' (EdgeInfo[]), 'round' (RoundResult & test metrics),
 * 'status' ({ runId, status }), 'plan' (Plan), 'event' (a stored event row),
 * 'capacity', 'replan'.
 */
export class Coordinator extends EventEmitter {
  private http?: HttpServer;
  private readonly mailbox: Mailbox;
  private readonly fleet: Fleet;
  private readonly edgeBytes = { bytesIn: 0, bytesOut: 0 };
  private active?: ActiveRun;
  private round?: CloudRound;
  private readonly waker = new Waker();
  /** The assembled model of the last run that ended, for inspection. */
  private lastGlobal?: Float32Array[];
  /** Latest measured capacity of every node of the fleet (and of the last nodes that left), the cloud's own included. */
  readonly capacity = new CapacityBook();
  /** Node identity under TLS (absent in insecure mode). */
  readonly enrollment?: Enrollment;
  port = 0;

  constructor(private readonly opts: CoordinatorOptions) {
    super();
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'coordinator task failed'));
    const enrollment = opts.pki && new Enrollment(opts.store, opts.pki, opts.log, {
      broadcast: (serials) => {
        for (const link of this.fleet.links.all.values()) link.peer.send(EVENTS.revocations, { serials });
      },
      kick: (serials) => this.fleet.links.sendAwayRevoked(serials, 'this node\'s credential was revoked by the operator'),
      event: (e) => this.event(e.level, e.kind, e.message, e.nodeId, e.data),
    });
    this.enrollment = enrollment;
    this.fleet = new Fleet({
      token: opts.token, authenticate: enrollment && ((hello, socket) => enrollment.authenticateEdge(hello, socket)), log: opts.log, mailbox: this.mailbox, store: opts.store, transportBytes: opts.maxBytes, totals: this.edgeBytes,
      maxBytes: () => planMessageLimit(this.active?.plan, opts.maxBytes ?? MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES),
      maxEdges: opts.maxEdges, helloTimeoutMs: opts.helloTimeoutMs, linkLimits: opts.linkLimits,
      runId: () => this.active?.id,
      event: (level, kind, message, nodeId) => this.event(level, kind, message, nodeId ?? null),
      onNodesLeft: (ids) => {
        for (const id of ids) this.capacity.left(id);
      },
      onEdgeJoin: (link) => {
        // Before anything else: an edge admits devices only once it knows who is revoked.
        if (enrollment) link.peer.send(EVENTS.revocations, { serials: enrollment.revokedSerials() });
        if (this.active) link.peer.send(EVENTS.welcome, this.welcome());
      },
      onEdgeLeave: (link) => this.round?.drop(link.id),
      onChange: () => {
        this.active?.planner.fleetChanged();
        this.emit('topology', this.topology());
        this.waker.wake();
      },
    });
    this.fleet.links
      .on(EVENTS.activations, (link, m) => this.requireRound().onActivations(link.id, m))
      .on(EVENTS.roundDone, (link, m) => this.requireRound().onRoundDone(link.id, m))
      .on(EVENTS.weightsUp, (link, m) => this.requireRound().onWeightsUp(link.id, m))
      .on(EVENTS.capacityReport, (link, m) => this.onCapacity(link, m));
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

  /** The weights of the latest model every tier held at once (of the last run when none is in progress). */
  globalWeights(): Float32Array[] {
    if (!this.active && this.lastGlobal) return this.lastGlobal.map((w) => w.slice());
    return assembled(this.requireActive().synced);
  }

  /** The cloud's own copy of units [c2, L) as it is now (it steps every round, between syncs too). */
  topWeights(): Float32Array[] {
    return this.requireActive().top.getWeights();
  }

  topology(): EdgeInfo[] {
    return this.fleet.topology();
  }

  deviceCount(): number {
    return this.fleet.deviceCount;
  }

  async start(): Promise<number> {
    this.http = this.opts.http ?? createLinkServer(this.opts.pki?.credential);
    this.fleet.links.attach(this.http);
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

  /**
   * Stops serving. The run in progress is left as it is in the store (its
   * last checkpoint is committed): a coordinator started again on the same
   * store resumes it, and the edges, told it is only going away for now,
   * keep reconnecting.
   */
  async close(reason = 'coordinator shutting down'): Promise<void> {
    const a = this.active;
    if (a) {
      a.closing = true;
      a.stopRequested = true;
    }
    this.waker.wake();
    await this.mailbox.run(() => this.round?.abort(reason));
    this.enrollment?.close();
    await this.fleet.links.close(reason, false);
  }

  // ---- runs ---------------------------------------------------------------

  /** Records a run from a trial description; it starts with startRun. */
  createRun(trial: TrialConfig): RunRow {
    let units: number;
    try {
      units = modelInfo(trial.model).numUnits;
    } catch (err) {
      throw new CoordinatorError('invalid', `bad trial: ${(err as Error).message}`);
    }
    const problems = trialProblems(trial, units);
    if (problems.length) throw new CoordinatorError('invalid', `bad trial: ${problems.join('; ')}`);
    return this.opts.store.createRun({ name: trial.name, config: trial });
  }

  /** Trains a created run to its end (or until stopped) and returns the outcome. */
  startRun(runId: string): Promise<RunSummary> {
    const row = this.runToDrive(runId, ['created'], 'only a created run can start');
    const trial = row.config as TrialConfig;
    const synced = initialSynced(runId, trial);
    const plan = synced.plan;
    const a = this.activate(row, synced, { planSince: 0, planner: initialPlannerState(trial.model) });
    this.opts.store.addPlan({ runId, version: 1, plan, prediction: null, reason: 'configured' });
    this.opts.store.saveSyncCheckpoint(runId, toCheckpoint(synced, loopState(a)));
    this.event('info', 'run_created', `run ${runId} (${trial.name}) begins: ${trial.model}, cuts (${trial.c1}, ${trial.c2}), intervals (${trial.i1}, ${trial.i2})`, null, { plan });
    return this.drive(a, false);
  }

  /**
   * Resumes a run a coordinator left running or paused (it crashed or was
   * stopped): from its last checkpoint, with what happened after it rolled
   * back and said so in the event log.
   */
  resumeRun(runId: string): Promise<RunSummary> {
    const row = this.runToDrive(runId, ['running', 'paused'], 'only an interrupted (running or paused) run can resume');
    const ckpt = this.opts.store.latestSyncCheckpoint(runId);
    if (!ckpt) throw new CoordinatorError('conflict', `run ${runId} has no checkpoint to resume from; mark it failed (hsfl-coordinator fail ${runId})`);
    const { synced, loop } = fromCheckpoint(ckpt);
    const rb = this.opts.store.rollbackToCheckpoint(runId, ckpt.round, ckpt.planVersion);
    const a = this.activate(row, synced, loop);
    const rolled = rb.roundsRemoved.length ? `rounds ${rb.roundsRemoved[0]}-${rb.roundsRemoved[rb.roundsRemoved.length - 1]} rolled back` : 'no round rolled back';
    const plans = rb.plansRemoved.length ? `; plan versions ${rb.plansRemoved.join(', ')} dropped` : '';
    this.event('warn', 'run_resumed', `run ${runId} resumes at round ${ckpt.round} from its last checkpoint (${rolled}${plans})`, null, { round: ckpt.round, ...rb });
    return this.drive(a, true);
  }

  /**
   * The stored run that startRun/resumeRun may drive now; refuses (before
   * anything starts, so callers can answer at once) an unknown run, a second
   * run while one is in progress, and a run in the wrong status.
   */
  private runToDrive(runId: string, statuses: RunRow['status'][], rule: string): RunRow {
    const row = this.opts.store.getRun(runId);
    if (!row) throw new CoordinatorError('not_found', `no run ${runId}`);
    if (this.active) throw new CoordinatorError('conflict', `run ${this.active.id} is in progress; one run at a time`);
    if (!statuses.includes(row.status)) throw new CoordinatorError('conflict', `run ${runId} is ${row.status}; ${rule}`);
    return row;
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
    this.waker.wake();
  }

  requestStop(): void {
    const a = this.requireActive();
    a.stopRequested = true;
    this.event('info', 'stop_requested', 'stop requested; the run ends after a round that brings every tier in sync');
    this.waker.wake();
  }

  /** Asks for a new plan. The next round aggregates every tier, and the cuts move after it. */
  requestPlan(change: PlanChange, reason: string, prediction: unknown = null): void {
    const a = this.requireActive();
    const problems = planChangeProblems(change, modelInfo(a.plan.model).numUnits);
    if (problems.length) throw new CoordinatorError('invalid', problems.join('; '));
    a.pendingPlan = { change: { ...change }, reason, prediction };
    this.event('info', 'plan_requested', `new plan requested (${reason}): cuts (${change.c1}, ${change.c2}), intervals (${change.i1}, ${change.i2})`);
    this.waker.wake();
  }

  /** Removes a device from the federation for the rest of the run. */
  removeDevice(deviceId: string): void {
    if (this.fleet.edge(deviceId)) throw new CoordinatorError('invalid', `${deviceId} is an edge aggregator; only devices can be removed`);
    const edgeId = this.fleet.edgeOfDevice(deviceId);
    const edge = edgeId === undefined ? undefined : this.fleet.edge(edgeId);
    if (!edge) throw new CoordinatorError('not_found', `no connected device ${deviceId}`);
    edge.peer.send(EVENTS.nodeStatus, { nodeId: deviceId, role: Role.ROLE_DEVICE, parentId: edge.id, connected: false, reason: 'removed by the operator' });
    this.fleet.markRemoved(deviceId);
    this.event('warn', 'node_removed', `device ${deviceId} removed by the operator`, deviceId);
  }

  // ---- the training loop -------------------------------------------------------

  private activate(row: RunRow, synced: SyncedModel, loop: LoopState): ActiveRun {
    const trial = row.config as TrialConfig;
    const plan = synced.plan;
    const a: ActiveRun = {
      id: row.id, trial, plan, top: topModelOf(synced), deviceAvg: synced.deviceWeights, edgeAvg: synced.edgeWeights, nextRound: synced.round, planSince: loop.planSince,
      paused: false, stopRequested: false, closing: false, startedAt: Date.now(), lastTest: loop.lastTest,
      planner: new RunPlanner(loop.planner, { warmupRounds: trial.warmupRounds, threshold: trial.replanThreshold, auto: trial.planner === 'auto' }),
      deviceSamples: new SampleLedger(), edgeSamples: new SampleLedger(), synced, inSync: true,
    };
    this.active = a;
    this.fleet.newRun();
    for (const e of this.fleet.links.all.values()) this.fleet.record(e);
    this.welcomeEdges();
    this.emit('plan', plan);
    return a;
  }

  private async drive(a: ActiveRun, resumed: boolean): Promise<RunSummary> {
    try {
      return await new RunDriver(this.driverHost()).run(a, resumed);
    } finally {
      this.lastGlobal = assembled(a.synced);
      a.top.dispose();
      this.active = undefined;
      this.round = undefined;
    }
  }

  /**
   * Chooses cuts and intervals for the current fleet (DESIGN §4) and, if
   * they differ from the current ones, asks for the switch.
   */
  replan(reason: string): PlanResult {
    const a = this.requireActive();
    let d: PlanDecision;
    try {
      d = a.planner.plan(a.plan, a.nextRound, this.topology(), this.capacity);
    } catch (err) {
      throw new CoordinatorError('unprocessable', `could not re-plan: ${(err as Error).message}`);
    }
    if (d.change) this.requestPlan(d.change, `planner: ${reason}`, d.prediction);
    // Kept plans go to the store only: announcing each one would flood the dashboard's log.
    else this.opts.store.addEvent({ runId: a.id, level: 'info', kind: 'plan_kept', nodeId: null, message: `planner (${reason}) keeps cuts (${a.plan.c1}, ${a.plan.c2}), intervals (${a.plan.i1}, ${a.plan.i2}); predicted ${d.result.predictedRoundMs.toFixed(1)} ms/round`, data: d.prediction });
    this.emit('replan', { reason, result: d.result });
    return d.result;
  }

  // ---- capacity --------------------------------------------------------------------

  private onCapacity(link: ChildLink, m: Parameters<typeof capacitySnapshot>[2]): void {
    const snap = capacitySnapshot(link.id, (id) => this.fleet.hasDevice(link.id, id), m);
    this.capacity.set(snap.nodeId, snap);
    this.opts.store.addCapacity(this.active?.id ?? null, snap.nodeId, snap);
    this.emit('capacity', snap);
    this.waker.wake();
  }

  /** Asks every node to measure itself again (compute, memory, link). */
  requestCapacity(): void {
    const a = this.requireActive();
    for (const e of this.fleet.links.all.values()) e.peer.send(EVENTS.capacityRequest, { model: a.plan.model, batchSize: a.plan.batchSize, probeBytes: 256 * 1024 });
    void this.measureCloudNow(a);
  }

  private async measureCloudNow(a: ActiveRun): Promise<void> {
    const snap = await measureCloud(a.plan.model, a.plan.batchSize * Math.max(1, this.deviceCount()), this.opts.backend);
    this.capacity.set(CLOUD_ID, snap);
    this.opts.store.addCapacity(a.id, CLOUD_ID, snap);
    this.emit('capacity', snap);
  }

  /** Nodes of the current fleet (and the cloud) without a capacity report for the run's model. */
  missingCapacity(): string[] {
    const a = this.requireActive();
    return buildTopology(a.plan.model, a.plan.batchSize, { edges: this.topology() }, this.capacity).missing;
  }

  // ---- helpers -----------------------------------------------------------

  /** The Welcome of the run in progress: its plan, next round and the latest tier averages. */
  private welcome(): MessageInitOf<typeof EVENTS.welcome> {
    const a = this.active!;
    return {
      runId: a.id, plan: a.plan, nextRound: a.nextRound, parentId: CLOUD_ID,
      deviceWeights: this.encodeTier(a.deviceAvg, 0, a.plan.c1),
      edgeWeights: this.encodeTier(a.edgeAvg, a.plan.c1, a.plan.c2),
    };
  }

  /** Welcomes every connected edge, encoding the weights once. */
  private welcomeEdges(): void {
    const m = this.welcome();
    for (const e of this.fleet.links.all.values()) e.peer.send(EVENTS.welcome, m);
  }

  /** What the run loop may use of this coordinator. */
  private driverHost(): DriverHost {
    return {
      store: this.opts.store, testData: this.opts.testData, fleet: this.fleet, mailbox: this.mailbox, waker: this.waker, edgeBytes: this.edgeBytes,
      event: (level, kind, message, nodeId, data) => this.event(level, kind, message, nodeId ?? null, data ?? null),
      emit: (event, payload) => this.emit(event, payload),
      setRound: (r) => {
        this.round = r;
      },
      welcomeEdges: () => this.welcomeEdges(),
      measureCloud: (a) => this.measureCloudNow(a),
      missingCapacity: () => this.missingCapacity(),
      capacitySize: () => this.capacity.size,
      replan: (reason) => this.replan(reason),
    };
  }

  private requireActive(): ActiveRun {
    if (!this.active) throw new CoordinatorError('conflict', 'no run in progress');
    return this.active;
  }

  private requireRound(): CloudRound {
    if (!this.active) throw new ProtocolError('stale', 'no run in progress');
    if (!this.round) throw new ProtocolError('stale', 'no round in progress');
    return this.round;
  }

  private encodeTier(ws: Float32Array[], start: number, end: number) {
    const shapes = tierWeightShapes(this.active!.plan.model, start, end);
    return ws.map((w, i) => encodeTensor(w, shapes[i]!));
  }

  private event(level: 'debug' | 'info' | 'warn' | 'error', kind: string, message: string, nodeId: string | null = null, data: unknown = null): void {
    const runId = this.active?.id ?? null;
    const id = this.opts.store.addEvent({ runId, level, kind, nodeId, message, data });
    this.opts.log[level]({ kind, nodeId, runId }, message);
    this.emit('event', { id, runId, at: Date.now(), level, kind, nodeId, message, data });
  }
}
