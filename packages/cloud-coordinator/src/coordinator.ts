import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  EVENTS, Mailbox, ProtocolError, encodeTensor, MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, CLOUD_ID, Role, codecValue,
  type LogLike, type MessageInitOf, type EventName,
} from '@hsfl/protocol';
import { modelInfo, tierWeightShapes, type Dataset } from '@hsfl/runtime';
import { TierModel, SampleLedger, FULL_SYNC, periodicSchedule, isFullSync, planMessageLimit, type ChildLink, type SyncFlags } from '@hsfl/tier-engine';
import type { PlanResult } from '@hsfl/planner';
import type { Store, RunRow, SyncCheckpointInput } from './store/index.js';
import type { CapacitySnapshot } from './planning.js';
import { buildTopology } from './planning.js';
import { trialProblems, type TrialConfig } from './config.js';
import { Fleet, type EdgeInfo } from './fleet.js';
import { CloudRound, type RoundOutcome } from './cloud-round.js';
import { RunPlanner, initialPlannerState } from './run-planner.js';
import { capacitySnapshot, measureCloud } from './capacity.js';
import { assembled, fromCheckpoint, recut, saveFinalModel, scoreSynced, toCheckpoint, topModelOf } from './checkpoints.js';
import type { ActiveRun, LoopState, Plan, PlanChange, RunSummary, SyncedModel } from './run-state.js';

export type { Plan, PlanChange, RoundResult, RunSummary } from './run-state.js';
export type { DeviceInfo, EdgeInfo } from './fleet.js';

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
  private wake?: () => void;
  /** The assembled model of the last run that ended, for inspection. */
  private lastGlobal?: Float32Array[];
  /** Latest measured capacity of every node that reported, the cloud's own included. */
  readonly capacity = new Map<string, CapacitySnapshot>();
  port = 0;

  constructor(private readonly opts: CoordinatorOptions) {
    super();
    this.mailbox = new Mailbox((err) => opts.log.error({ err: String(err), stack: (err as Error)?.stack }, 'coordinator task failed'));
    this.fleet = new Fleet({
      token: opts.token, log: opts.log, mailbox: this.mailbox, store: opts.store, transportBytes: opts.maxBytes, totals: this.edgeBytes,
      maxBytes: () => planMessageLimit(this.active?.plan, opts.maxBytes ?? MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES),
      runId: () => this.active?.id,
      event: (level, kind, message, nodeId) => this.event(level, kind, message, nodeId ?? null),
      onEdgeJoin: (link) => {
        if (this.active) link.peer.send(EVENTS.welcome, this.welcome());
      },
      onEdgeLeave: (link) => this.round?.drop(link.id),
      onChange: () => {
        this.active?.planner.fleetChanged();
        this.emit('topology', this.topology());
        this.wake?.();
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
    this.http = this.opts.http ?? createServer();
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
    this.wake?.();
    await this.mailbox.run(() => this.round?.abort(reason));
    await this.fleet.links.close(reason, false);
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
    const L = modelInfo(trial.model).numUnits;
    const plan: Plan = {
      runId, version: 1, model: trial.model, c1: trial.c1, c2: trial.c2, i1: trial.i1, i2: trial.i2, batchSize: trial.batchSize,
      lr: trial.lr, rounds: trial.rounds, evalEvery: trial.evalEvery, codec: codecValue(trial.codec), seed: trial.seed, deadlineMs: trial.deadlineMs,
      aggregator: trial.aggregator ?? 'fedavg',
    };
    const init = (a: number, b: number) => {
      const m = TierModel.create(trial.model, a, b, trial.seed);
      const w = m.getWeights();
      m.dispose();
      return w;
    };
    const synced: SyncedModel = { round: 0, plan, deviceWeights: init(0, trial.c1), edgeWeights: init(trial.c1, trial.c2), topWeights: init(trial.c2, L) };
    const a = this.activate(row, synced, { planSince: 0, planner: initialPlannerState(trial.model) });
    this.opts.store.addPlan({ runId, version: 1, plan, prediction: null, reason: 'configured' });
    this.opts.store.saveSyncCheckpoint(runId, toCheckpoint(synced, this.loopState(a)));
    this.event('info', 'run_created', `run ${runId} (${trial.name}) begins: ${trial.model}, cuts (${trial.c1}, ${trial.c2}), intervals (${trial.i1}, ${trial.i2})`, null, { plan });
    return this.drive(a, false);
  }

  /**
   * Resumes a run a coordinator left running or paused (it crashed or was
   * stopped): from its last checkpoint, with what happened after it rolled
   * back and said so in the event log.
   */
  async resumeRun(runId: string): Promise<RunSummary> {
    if (this.active) throw new Error(`run ${this.active.id} is still in progress`);
    const row = this.opts.store.getRun(runId);
    if (!row) throw new Error(`no run ${runId}`);
    if (row.status !== 'running' && row.status !== 'paused') throw new Error(`run ${runId} is ${row.status}; only an interrupted (running or paused) run can resume`);
    const ckpt = this.opts.store.latestSyncCheckpoint(runId);
    if (!ckpt) throw new Error(`run ${runId} has no checkpoint to resume from; mark it failed (hsfl-coordinator fail ${runId})`);
    const { synced, loop } = fromCheckpoint(ckpt);
    const rb = this.opts.store.rollbackToCheckpoint(runId, ckpt.round, ckpt.planVersion);
    const a = this.activate(row, synced, loop);
    const rolled = rb.roundsRemoved.length ? `rounds ${rb.roundsRemoved[0]}-${rb.roundsRemoved[rb.roundsRemoved.length - 1]} rolled back` : 'no round rolled back';
    const plans = rb.plansRemoved.length ? `; plan versions ${rb.plansRemoved.join(', ')} dropped` : '';
    this.event('warn', 'run_resumed', `run ${runId} resumes at round ${ckpt.round} from its last checkpoint (${rolled}${plans})`, null, { round: ckpt.round, ...rb });
    return this.drive(a, true);
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
    this.event('info', 'stop_requested', 'stop requested; the run ends after a round that brings every tier in sync');
    this.wake?.();
  }

  /** Asks for a new plan. The next round aggregates every tier, and the cuts move after it. */
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
    const edgeId = this.fleet.edgeOfDevice(deviceId);
    const edge = edgeId === undefined ? undefined : this.fleet.edge(edgeId);
    if (!edge) throw new Error(`no connected device ${deviceId}`);
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
      return await this.train(a, resumed);
    } finally {
      this.lastGlobal = assembled(a.synced);
      a.top.dispose();
      this.active = undefined;
      this.round = undefined;
    }
  }

  private async train(a: ActiveRun, resumed: boolean): Promise<RunSummary> {
    const t = a.trial;
    try {
      await this.waitForFleet(a);
      await this.measureCloudNow(a);
      if (t.planner === 'auto' && !resumed) {
        await this.waitForCapacity(a);
        // Plan from the measured capacity at once (the gradient statistics
        // still default to parameter shares), so the warm-up already runs on
        // a sensible split; the plan is refined after the warm-up.
        this.tryReplan('initial plan from measured capacity');
      }
      this.opts.store.setRunStatus(a.id, 'running');
      if (!resumed) this.opts.store.markPlanApplied(a.id, 1, 0);
      this.emit('status', { runId: a.id, status: 'running' });
      this.event('info', resumed ? 'run_continued' : 'run_started', `training ${resumed ? 'continues' : 'started'} with ${this.fleet.edgeCount} edges and ${this.deviceCount()} devices`);
      let reason: 'completed' | 'stopped' | 'target' = 'completed';
      while (a.nextRound < t.rounds) {
        await this.waitUntilRunnable(a);
        if (a.closing) return this.interrupted(a);
        // A stop is honoured with every tier in sync: one more round brings
        // them there if needed and possible (else the last synced model ends the run).
        if (a.stopRequested && (a.inSync || this.deviceCount() === 0)) {
          reason = 'stopped';
          break;
        }
        const r = a.nextRound;
        const last = r === t.rounds - 1 || a.stopRequested;
        const switching = a.pendingPlan !== undefined && !last;
        const evalDue = t.evalEvery > 0 && (r + 1) % t.evalEvery === 0;
        const flags: SyncFlags = last || switching || evalDue ? FULL_SYNC : periodicSchedule(a.plan.i1, a.plan.i2).at(r - a.planSince + 1);
        const outcome = await this.runRound(a, r, flags);
        if (a.closing) return this.interrupted(a);
        if (this.finishRound(a, outcome, last || evalDue || switching)) {
          reason = 'target';
          break;
        }
        if (a.stopRequested && a.inSync) {
          reason = 'stopped';
          break;
        }
      }
      if (a.pendingPlan) {
        this.event('info', 'plan_discarded', `the requested plan (${a.pendingPlan.reason}) was not applied: the run ended first`);
        a.pendingPlan = undefined;
      }
      return this.complete(a, reason === 'stopped' ? 'stopped' : 'completed');
    } catch (err) {
      if (a.closing) return this.interrupted(a);
      const message = err instanceof Error ? err.message : String(err);
      this.opts.store.setRunStatus(a.id, 'failed', { error: message });
      this.event('error', 'run_failed', message);
      this.broadcastEnd(a, 'failed');
      this.emit('status', { runId: a.id, status: 'failed' });
      throw err;
    }
  }

  /** Records a finished round (with a checkpoint when every tier is in sync); true when the target accuracy is reached. */
  private finishRound(a: ActiveRun, o: RoundOutcome, wantEval: boolean): boolean {
    const r = o.result.round;
    const planVersion = a.plan.version;
    a.nextRound = r + 1;
    if (o.deviceAvg) a.deviceAvg = o.deviceAvg;
    if (o.edgeAvg) a.edgeAvg = o.edgeAvg;
    for (const g of o.gradSq) a.planner.recordGradSq(g.start, g.values);
    const full = isFullSync({ syncDevices: o.result.syncedDevices, syncEdges: o.result.syncedEdges }) && o.result.samples > 0;
    a.inSync = full || (a.inSync && o.result.samples === 0);
    let test: { loss: number; accuracy: number } | undefined;
    let checkpoint: SyncCheckpointInput | undefined;
    if (full) {
      a.synced = { round: r + 1, plan: a.plan, deviceWeights: a.deviceAvg, edgeWeights: a.edgeAvg, topWeights: a.top.getWeights() };
      if (wantEval) test = this.evaluateSynced(a, r);
      if (a.pendingPlan && r + 1 < a.trial.rounds && !a.stopRequested) this.applyPendingPlan(a, r + 1);
      checkpoint = toCheckpoint(a.synced, this.loopState(a));
    } else if (o.result.samples === 0) {
      this.event('warn', 'empty_round', `round ${r}: no device delivered activations`);
    }
    const metrics = { ...o.result, planVersion, testAccuracy: test?.accuracy ?? null, testLoss: test?.loss ?? null, endedAt: Date.now() };
    this.opts.store.commitRound(a.id, metrics, checkpoint);
    this.emit('round', { ...o.result, runId: a.id, rounds: a.trial.rounds, planVersion: metrics.planVersion, testAccuracy: test?.accuracy, testLoss: test?.loss, wallMs: Date.now() - a.startedAt });
    if (o.result.samples > 0) this.maybeReplan(a, r, o.result.roundMs);
    const target = a.trial.targetAccuracy;
    if (target && test && test.accuracy >= target) {
      this.event('info', 'target_reached', `test accuracy ${test.accuracy.toFixed(4)} reached the target ${target} at round ${r}`);
      return true;
    }
    return false;
  }

  /** Scores the synced model after round r and tells the fleet. */
  private evaluateSynced(a: ActiveRun, r: number): { loss: number; accuracy: number } {
    const data = this.opts.testData(a.plan.model);
    const test = scoreSynced(a.synced, data);
    a.lastTest = { ...test, round: r };
    const report = { header: { runId: a.id, planVersion: a.plan.version, round: r, sender: CLOUD_ID }, loss: test.loss, accuracy: test.accuracy, samples: data.n };
    for (const e of this.fleet.links.all.values()) e.peer.send(EVENTS.evalReport, report);
    return test;
  }

  private complete(a: ActiveRun, status: 'completed' | 'stopped'): RunSummary {
    if (!a.inSync) this.event('warn', 'final_from_checkpoint', `the last rounds did not bring every tier in sync; the final model is the one of round ${a.synced.round - 1}`);
    const final = a.lastTest && a.lastTest.round === a.synced.round - 1 ? a.lastTest : { ...scoreSynced(a.synced, this.opts.testData(a.plan.model)), round: a.synced.round - 1 };
    saveFinalModel(this.opts.store, a.id, a.synced, final.accuracy);
    this.opts.store.setRunStatus(a.id, status, { finalAccuracy: final.accuracy, finalLoss: final.loss });
    this.event('info', 'run_finished', `run ${status} after ${a.nextRound} rounds: test accuracy ${final.accuracy.toFixed(4)}`);
    this.broadcastEnd(a, status);
    this.emit('status', { runId: a.id, status });
    return { runId: a.id, status, rounds: a.nextRound, testAccuracy: final.accuracy, testLoss: final.loss, plan: a.synced.plan, dbPath: this.dbPath, wallMs: Date.now() - a.startedAt };
  }

  /** The coordinator is closing mid-run: the run stays resumable from its last checkpoint. */
  private interrupted(a: ActiveRun): RunSummary {
    this.event('warn', 'run_interrupted', `the coordinator is shutting down at round ${a.nextRound}; the run resumes from its checkpoint at round ${a.synced.round} when it starts again`);
    const final = a.lastTest ?? { accuracy: 0, loss: 0 };
    return { runId: a.id, status: 'interrupted', rounds: a.nextRound, testAccuracy: final.accuracy, testLoss: final.loss, plan: a.plan, dbPath: this.dbPath, wallMs: Date.now() - a.startedAt };
  }

  /** Moves weights between tiers to the new cuts; called right after a round that synced every tier. */
  private applyPendingPlan(a: ActiveRun, atRound: number): void {
    const p = a.pendingPlan!;
    a.pendingPlan = undefined;
    const plan: Plan = { ...a.plan, ...p.change, version: a.plan.version + 1 };
    const before = a.lastTest?.round === atRound - 1 ? a.lastTest.accuracy : null;
    a.synced = recut(a.synced, plan, atRound);
    a.top.dispose();
    a.top = topModelOf(a.synced);
    a.deviceAvg = a.synced.deviceWeights;
    a.edgeAvg = a.synced.edgeWeights;
    a.plan = plan;
    a.planSince = atRound;
    this.opts.store.addPlan({ runId: a.id, version: plan.version, plan, prediction: p.prediction, reason: p.reason });
    this.opts.store.markPlanApplied(a.id, plan.version, atRound);
    // The assembled model is the same before and after the move; scoring it
    // here shows that moving weights between tiers loses nothing.
    const after = scoreSynced(a.synced, this.opts.testData(plan.model)).accuracy;
    this.event('info', 'plan_applied', `plan v${plan.version} applied at round ${atRound} (${p.reason}): cuts (${plan.c1}, ${plan.c2}), intervals (${plan.i1}, ${plan.i2}); test accuracy after the move ${after.toFixed(4)}`, null, { plan, testAccuracyAfter: after, testAccuracyBefore: before });
    this.welcomeEdges();
    this.emit('plan', plan);
  }

  private async runRound(a: ActiveRun, round: number, flags: SyncFlags): Promise<RoundOutcome> {
    const r = new CloudRound({
      plan: a.plan, top: a.top, deviceSamples: a.deviceSamples, edgeSamples: a.edgeSamples, edgeBytes: this.edgeBytes,
      send: <E extends EventName>(id: string, event: E, msg: MessageInitOf<E>) => this.fleet.edge(id)?.peer.send(event, msg),
      broadcast: <E extends EventName>(event: E, msg: MessageInitOf<E>) => {
        for (const e of this.fleet.links.all.values()) e.peer.send(event, msg);
      },
      warn: (kind, message) => this.event('warn', kind, message),
      inMailbox: (fn) => void this.mailbox.run(fn),
    }, round, flags, this.fleet.links.all.keys());
    // Begin inside the mailbox, but never wait there for the round's end: its messages arrive through the mailbox.
    await this.mailbox.run(() => {
      this.round = r;
      r.begin();
    });
    const o = await r.done;
    if (this.round === r) this.round = undefined;
    return o;
  }

  private maybeReplan(a: ActiveRun, r: number, roundMs: number): void {
    const reason = a.planner.due(r, roundMs, a.plan, a.pendingPlan !== undefined);
    if (reason && !this.tryReplan(reason)) a.planner.failed(r);
  }

  private tryReplan(reason: string): boolean {
    try {
      this.replan(reason);
      return true;
    } catch (err) {
      this.event('warn', 'replan_failed', `could not plan (${reason}): ${(err as Error).message}`);
      return false;
    }
  }

  /**
   * Chooses cuts and intervals for the current fleet (DESIGN §4) and, if
   * they differ from the current ones, asks for the switch.
   */
  replan(reason: string): PlanResult {
    const a = this.requireActive();
    const d = a.planner.plan(a.plan, a.nextRound, this.topology(), this.capacity);
    if (d.change) this.requestPlan(d.change, `planner: ${reason}`, d.prediction);
    // Kept plans go to the store only: announcing each one would flood the dashboard's log.
    else this.opts.store.addEvent({ runId: a.id, level: 'info', kind: 'plan_kept', nodeId: null, message: `planner (${reason}) keeps cuts (${a.plan.c1}, ${a.plan.c2}), intervals (${a.plan.i1}, ${a.plan.i2}); predicted ${d.result.predictedRoundMs.toFixed(1)} ms/round`, data: d.prediction });
    this.emit('replan', { reason, result: d.result });
    return d.result;
  }

  private async waitForFleet(a: ActiveRun): Promise<void> {
    const t = a.trial;
    const deadline = Date.now() + t.joinTimeoutMs;
    while (this.fleet.edgeCount < t.minEdges || this.deviceCount() < t.minDevices) {
      if (a.stopRequested) throw new Error('stopped before the fleet assembled');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.fleet.edgeCount}/${t.minEdges} edges and ${this.deviceCount()}/${t.minDevices} devices joined within ${t.joinTimeoutMs} ms`);
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
    while (!a.closing && !a.stopRequested && (a.paused || this.deviceCount() === 0)) await this.sleepUntilWoken(1000);
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

  // ---- capacity --------------------------------------------------------------------

  private onCapacity(link: ChildLink, m: Parameters<typeof capacitySnapshot>[2]): void {
    const snap = capacitySnapshot(link.id, (id) => this.fleet.hasDevice(link.id, id), m);
    this.capacity.set(snap.nodeId, snap);
    this.opts.store.addCapacity(this.active?.id ?? null, snap.nodeId, snap);
    this.emit('capacity', snap);
    this.wake?.();
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

  private broadcastEnd(a: ActiveRun, reason: string): void {
    for (const e of this.fleet.links.all.values()) e.peer.send(EVENTS.runEnd, { runId: a.id, reason });
  }

  private loopState(a: ActiveRun): LoopState {
    return { planSince: a.planSince, lastTest: a.lastTest, planner: a.planner.state };
  }

  private requireActive(): ActiveRun {
    if (!this.active) throw new Error('no run in progress');
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
