// The run loop of one run: rounds on the schedule, forced full syncs for
// evaluations, stops and plan switches, a checkpoint with every full sync,
// the re-planning policy, and how the run ends (completed, stopped, failed,
// or interrupted by the coordinator closing and resumable).
import { EVENTS, CLOUD_ID, type ByteTotals, type Mailbox, type MessageInitOf, type EventName, type Plan } from '@hsfl/protocol';
import type { Dataset } from '@hsfl/runtime';
import { FULL_SYNC, periodicSchedule, isFullSync, type SyncFlags } from '@hsfl/tier-engine';
import type { Store, SyncCheckpointInput } from './store/index.js';
import type { Fleet } from './fleet.js';
import { CloudRound, type RoundOutcome } from './cloud-round.js';
import { recut, saveFinalModel, scoreSynced, toCheckpoint, topModelOf } from './checkpoints.js';
import type { Waker } from './waker.js';
import type { ActiveRun, LoopState, RunSummary } from './run-state.js';

/** What the run loop needs of its coordinator. */
export interface DriverHost {
  readonly store: Store;
  readonly testData: (model: string) => Dataset;
  readonly fleet: Fleet;
  readonly mailbox: Mailbox;
  readonly waker: Waker;
  readonly edgeBytes: ByteTotals;
  event(level: 'debug' | 'info' | 'warn' | 'error', kind: string, message: string, nodeId?: string | null, data?: unknown): void;
  emit(event: string, payload: unknown): boolean;
  /** The round messages from edges go to. */
  setRound(r: CloudRound | undefined): void;
  welcomeEdges(): void;
  measureCloud(a: ActiveRun): Promise<void>;
  missingCapacity(): string[];
  capacitySize(): number;
  /** Plans for the current fleet; throws when it cannot. */
  replan(reason: string): unknown;
}

/** The run loop's state a checkpoint keeps besides the weights. */
export function loopState(a: ActiveRun): LoopState {
  return { planSince: a.planSince, lastTest: a.lastTest, planner: a.planner.state };
}

export class RunDriver {
  constructor(private readonly h: DriverHost) {}

  /** Trains `a` until it ends or the coordinator closes. */
  async run(a: ActiveRun, resumed: boolean): Promise<RunSummary> {
    const t = a.trial;
    try {
      await this.waitForFleet(a);
      await this.h.measureCloud(a);
      if (t.planner === 'auto' && !resumed) {
        await this.waitForCapacity(a);
        // Plan from the measured capacity at once (the gradient statistics
        // still default to parameter shares), so the warm-up already runs on
        // a sensible split; the plan is refined after the warm-up.
        this.tryReplan('initial plan from measured capacity');
      }
      this.h.store.setRunStatus(a.id, 'running');
      if (!resumed) this.h.store.markPlanApplied(a.id, 1, 0);
      this.h.emit('status', { runId: a.id, status: 'running' });
      this.h.event('info', resumed ? 'run_continued' : 'run_started', `training ${resumed ? 'continues' : 'started'} with ${this.h.fleet.edgeCount} edges and ${this.h.fleet.deviceCount} devices`);
      let reason: 'completed' | 'stopped' | 'target' = 'completed';
      while (a.nextRound < t.rounds) {
        await this.waitUntilRunnable(a);
        if (a.closing) return this.interrupted(a);
        // A stop is honoured with every tier in sync: one more round brings
        // them there if needed and possible (else the last synced model ends the run).
        if (a.stopRequested && (a.inSync || this.h.fleet.deviceCount === 0)) {
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
        this.h.event('info', 'plan_discarded', `the requested plan (${a.pendingPlan.reason}) was not applied: the run ended first`);
        a.pendingPlan = undefined;
      }
      return this.complete(a, reason === 'stopped' ? 'stopped' : 'completed');
    } catch (err) {
      if (a.closing) return this.interrupted(a);
      const message = err instanceof Error ? err.message : String(err);
      this.h.store.setRunStatus(a.id, 'failed', { error: message });
      this.h.event('error', 'run_failed', message);
      this.broadcastEnd(a, 'failed');
      this.h.emit('status', { runId: a.id, status: 'failed' });
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
      checkpoint = toCheckpoint(a.synced, loopState(a));
    } else if (o.result.samples === 0) {
      this.h.event('warn', 'empty_round', `round ${r}: no device delivered activations`);
    }
    const metrics = { ...o.result, planVersion, testAccuracy: test?.accuracy ?? null, testLoss: test?.loss ?? null, endedAt: Date.now() };
    this.h.store.commitRound(a.id, metrics, checkpoint);
    this.h.emit('round', { ...o.result, runId: a.id, rounds: a.trial.rounds, planVersion: metrics.planVersion, testAccuracy: test?.accuracy, testLoss: test?.loss, wallMs: Date.now() - a.startedAt });
    if (o.result.samples > 0) this.maybeReplan(a, r, o.result.roundMs);
    const target = a.trial.targetAccuracy;
    if (target && test && test.accuracy >= target) {
      this.h.event('info', 'target_reached', `test accuracy ${test.accuracy.toFixed(4)} reached the target ${target} at round ${r}`);
      return true;
    }
    return false;
  }

  /** Scores the synced model after round r and tells the fleet. */
  private evaluateSynced(a: ActiveRun, r: number): { loss: number; accuracy: number } {
    const data = this.h.testData(a.plan.model);
    const test = scoreSynced(a.synced, data);
    a.lastTest = { ...test, round: r };
    const report = { header: { runId: a.id, planVersion: a.plan.version, round: r, sender: CLOUD_ID }, loss: test.loss, accuracy: test.accuracy, samples: data.n };
    for (const e of this.h.fleet.links.all.values()) e.peer.send(EVENTS.evalReport, report);
    return test;
  }

  private complete(a: ActiveRun, status: 'completed' | 'stopped'): RunSummary {
    if (!a.inSync) this.h.event('warn', 'final_from_checkpoint', `the last rounds did not bring every tier in sync; the final model is the one of round ${a.synced.round - 1}`);
    const final = a.lastTest && a.lastTest.round === a.synced.round - 1 ? a.lastTest : { ...scoreSynced(a.synced, this.h.testData(a.plan.model)), round: a.synced.round - 1 };
    saveFinalModel(this.h.store, a.id, a.synced, final.accuracy);
    this.h.store.setRunStatus(a.id, status, { finalAccuracy: final.accuracy, finalLoss: final.loss });
    this.h.event('info', 'run_finished', `run ${status} after ${a.nextRound} rounds: test accuracy ${final.accuracy.toFixed(4)}`);
    this.broadcastEnd(a, status);
    this.h.emit('status', { runId: a.id, status });
    return { runId: a.id, status, rounds: a.nextRound, testAccuracy: final.accuracy, testLoss: final.loss, plan: a.synced.plan, dbPath: this.h.store.path, wallMs: Date.now() - a.startedAt };
  }

  /** The coordinator is closing mid-run: the run stays resumable from its last checkpoint. */
  private interrupted(a: ActiveRun): RunSummary {
    this.h.event('warn', 'run_interrupted', `the coordinator is shutting down at round ${a.nextRound}; the run resumes from its checkpoint at round ${a.synced.round} when it starts again`);
    const final = a.lastTest ?? { accuracy: 0, loss: 0 };
    return { runId: a.id, status: 'interrupted', rounds: a.nextRound, testAccuracy: final.accuracy, testLoss: final.loss, plan: a.plan, dbPath: this.h.store.path, wallMs: Date.now() - a.startedAt };
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
    this.h.store.addPlan({ runId: a.id, version: plan.version, plan, prediction: p.prediction, reason: p.reason });
    this.h.store.markPlanApplied(a.id, plan.version, atRound);
    // The assembled model is the same before and after the move; scoring it
    // here shows that moving weights between tiers loses nothing.
    const after = scoreSynced(a.synced, this.h.testData(plan.model)).accuracy;
    this.h.event('info', 'plan_applied', `plan v${plan.version} applied at round ${atRound} (${p.reason}): cuts (${plan.c1}, ${plan.c2}), intervals (${plan.i1}, ${plan.i2}); test accuracy after the move ${after.toFixed(4)}`, null, { plan, testAccuracyAfter: after, testAccuracyBefore: before });
    this.h.welcomeEdges();
    this.h.emit('plan', plan);
  }

  private async runRound(a: ActiveRun, round: number, flags: SyncFlags): Promise<RoundOutcome> {
    const r = new CloudRound({
      plan: a.plan, top: a.top, deviceSamples: a.deviceSamples, edgeSamples: a.edgeSamples, edgeBytes: this.h.edgeBytes,
      send: <E extends EventName>(id: string, event: E, msg: MessageInitOf<E>) => this.h.fleet.edge(id)?.peer.send(event, msg),
      broadcast: <E extends EventName>(event: E, msg: MessageInitOf<E>) => {
        for (const e of this.h.fleet.links.all.values()) e.peer.send(event, msg);
      },
      warn: (kind, message) => this.h.event('warn', kind, message),
      inMailbox: (fn) => void this.h.mailbox.run(fn),
    }, round, flags, this.h.fleet.links.all.keys());
    // Begin inside the mailbox, but never wait there for the round's end: its messages arrive through the mailbox.
    await this.h.mailbox.run(() => {
      this.h.setRound(r);
      r.begin();
    });
    try {
      return await r.done;
    } finally {
      this.h.setRound(undefined);
      // Keyed by edge ids: only edges still joined keep counting (bounded by the fleet).
      const joined = (id: string) => this.h.fleet.edge(id) !== undefined;
      a.deviceSamples.retain(joined);
      a.edgeSamples.retain(joined);
    }
  }

  private maybeReplan(a: ActiveRun, r: number, roundMs: number): void {
    const reason = a.planner.due(r, roundMs, a.plan, a.pendingPlan !== undefined);
    if (reason && !this.tryReplan(reason)) a.planner.failed(r);
  }

  private tryReplan(reason: string): boolean {
    try {
      this.h.replan(reason);
      return true;
    } catch (err) {
      this.h.event('warn', 'replan_failed', `${(err as Error).message} (${reason})`);
      return false;
    }
  }

  private async waitForFleet(a: ActiveRun): Promise<void> {
    const t = a.trial;
    const deadline = Date.now() + t.joinTimeoutMs;
    while (this.h.fleet.edgeCount < t.minEdges || this.h.fleet.deviceCount < t.minDevices) {
      if (a.stopRequested) throw new Error('stopped before the fleet assembled');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.h.fleet.edgeCount}/${t.minEdges} edges and ${this.h.fleet.deviceCount}/${t.minDevices} devices joined within ${t.joinTimeoutMs} ms`);
      await this.h.waker.sleep(left);
    }
  }

  /** With the planner on, every node must have measured itself before training starts. */
  private async waitForCapacity(a: ActiveRun): Promise<void> {
    const deadline = Date.now() + a.trial.joinTimeoutMs;
    let missing = this.h.missingCapacity();
    while (missing.length && !a.stopRequested) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.h.event('warn', 'capacity_missing', `no capacity report from ${missing.join(', ')}; planning without them`);
        return;
      }
      await this.h.waker.sleep(Math.min(left, 1000));
      missing = this.h.missingCapacity();
    }
    this.h.event('info', 'capacity_ready', `capacity measured for ${this.h.capacitySize()} nodes`);
  }

  private async waitUntilRunnable(a: ActiveRun): Promise<void> {
    while (!a.closing && !a.stopRequested && (a.paused || this.h.fleet.deviceCount === 0)) await this.h.waker.sleep(1000);
  }

  private broadcastEnd(a: ActiveRun, reason: string): void {
    for (const e of this.h.fleet.links.all.values()) e.peer.send(EVENTS.runEnd, { runId: a.id, reason });
  }
}
