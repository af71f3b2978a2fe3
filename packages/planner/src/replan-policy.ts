/**
 * When to re-plan during a run (DESIGN §4: "it re-plans when nodes join or
 * leave or measured round times drift from the prediction"). Pure and
 * deterministic: the coordinator feeds it what happened and asks it, after
 * every round, whether a planning attempt is due; its state is plain data so
 * the coordinator can checkpoint it with the run and resume after a crash.
 *
 * A re-plan is due, with the planner on, when one of these holds (checked in
 * this order, and never while a plan change is pending):
 * 1. the round just ended closes the warm-up (`round + 1 === warmupRounds`),
 *    or the warm-up planning failed and has not succeeded since;
 * 2. after the warm-up, a node joined or left since the last planning;
 * 3. the measured round times drifted from the prediction. Only rounds run
 *    under the plan version the prediction was made for, from its `since`
 *    round on, count. Sync rounds are longer than the others and the
 *    prediction is a mean over a whole aggregation cycle, so the rule compares
 *    means over whole cycles of `aggregationCycle(i1, i2)` rounds: it keeps the
 *    last max(3 * cycle, 12) round times and asks `shouldReplan` once there
 *    are at least 2 whole cycles, 10 samples and 30 rounds since the last
 *    planning.
 *
 * After every planning attempt (`planned` or `failed`) the recent round times
 * start over.
 */
import { shouldReplan } from './drift.js';

export interface ReplanPolicyOptions {
  /** Rounds of warm-up; the re-plan after them uses the gradient statistics they measured. */
  warmupRounds: number;
  /** Relative drift of the measured round time from the prediction that triggers a re-plan (`shouldReplan`). */
  threshold: number;
}

/** What the planner predicted, for which plan, and from which round measurements count against it. */
export interface ReplanPrediction {
  planVersion: number;
  predictedRoundMs: number;
  since: number;
}

/** One finished round, as `observe` needs it. */
export interface ObservedRound {
  round: number;
  roundMs: number;
  /** Plan version the round ran under. */
  planVersion: number;
  i1: number;
  i2: number;
  /** A plan change is waiting for the next sync point: no re-plan now. */
  pendingPlan: boolean;
}

/** The policy's whole state, as `toJSON` writes it and `fromJSON` reads it. */
export interface ReplanPolicyState {
  fleetChanged: boolean;
  warmupRetry: boolean;
  prediction: ReplanPrediction | null;
  lastPlannedRound: number;
  recentRoundMs: number[];
}

/** Rounds required between the last planning and a re-plan for drift. */
export const REPLAN_MIN_SPACING = 30;
const MAX_CYCLE = 30;
const MIN_SAMPLES = 10;
const MIN_CYCLES = 2;

export function gcd(a: number, b: number): number {
  checkCount('gcd', a, 0);
  checkCount('gcd', b, 0);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Least common multiple of two positive integers (intervals i1, i2: the length of a whole aggregation cycle). */
export function lcm(a: number, b: number): number {
  checkCount('lcm', a, 1);
  checkCount('lcm', b, 1);
  return (a / gcd(a, b)) * b;
}

/** Length, in rounds, of the cycles the drift rule averages over: min(30, lcm(i1, i2)). */
export function aggregationCycle(i1: number, i2: number): number {
  return Math.min(MAX_CYCLE, lcm(i1, i2));
}

function checkCount(what: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${what}: expected an integer >= ${min}, got ${v}`);
}

export class ReplanPolicy {
  readonly warmupRounds: number;
  readonly threshold: number;
  private state: ReplanPolicyState;

  constructor(options: ReplanPolicyOptions, state?: ReplanPolicyState) {
    checkCount('warmupRounds', options.warmupRounds, 0);
    if (!(options.threshold >= 0) || !Number.isFinite(options.threshold)) {
      throw new RangeError(`threshold must be a finite number >= 0, got ${options.threshold}`);
    }
    this.warmupRounds = options.warmupRounds;
    this.threshold = options.threshold;
    this.state = state !== undefined ? checkState(state) : { fleetChanged: false, warmupRetry: false, prediction: null, lastPlannedRound: 0, recentRoundMs: [] };
  }

  /** A node joined or left. */
  fleetChanged(): void {
    this.state.fleetChanged = true;
  }

  /**
   * A planning attempt succeeded at `round` (the next round to run), predicting
   * `predictedRoundMs` for plan version `planVersion` from round `since` on.
   */
  planned(p: { round: number } & ReplanPrediction): void {
    checkCount('round', p.round, 0);
    checkCount('planVersion', p.planVersion, 0);
    checkCount('since', p.since, 0);
    if (!(p.predictedRoundMs > 0) || !Number.isFinite(p.predictedRoundMs)) {
      throw new RangeError(`predictedRoundMs must be a finite number > 0, got ${p.predictedRoundMs}`);
    }
    this.state = {
      fleetChanged: false,
      warmupRetry: false,
      prediction: { planVersion: p.planVersion, predictedRoundMs: p.predictedRoundMs, since: p.since },
      lastPlannedRound: p.round,
      recentRoundMs: [],
    };
  }

  /**
   * A planning attempt after round `round` failed. If it was the warm-up's,
   * the next round asks again (and every round after it, until one succeeds);
   * a failed re-plan for a fleet change stays due likewise.
   */
  failed(round: number): void {
    checkCount('round', round, 0);
    if (round + 1 === this.warmupRounds) this.state.warmupRetry = true;
    this.state.recentRoundMs = [];
  }

  /** The round `o` ended: the reason a re-plan is due now, or undefined. */
  observe(o: ObservedRound): string | undefined {
    if (o.pendingPlan) return undefined;
    const s = this.state;
    if (o.round + 1 === this.warmupRounds) return 'after warm-up';
    if (o.round + 1 > this.warmupRounds && s.warmupRetry) return 'after warm-up (retry)';
    if (o.round + 1 > this.warmupRounds && s.fleetChanged) return 'the fleet changed';
    const p = s.prediction;
    if (!p || o.planVersion !== p.planVersion || o.round < p.since) return undefined;
    // A measurement that is not a time (non-finite, negative) is not kept.
    if (!Number.isFinite(o.roundMs) || o.roundMs < 0) return undefined;
    const cycle = aggregationCycle(o.i1, o.i2);
    s.recentRoundMs.push(o.roundMs);
    const keep = Math.max(3 * cycle, 12);
    if (s.recentRoundMs.length > keep) s.recentRoundMs.splice(0, s.recentRoundMs.length - keep);
    const n = s.recentRoundMs.length;
    const cycles = Math.floor(n / cycle);
    if (cycles < MIN_CYCLES || n < MIN_SAMPLES || o.round - s.lastPlannedRound < REPLAN_MIN_SPACING) return undefined;
    const recent = s.recentRoundMs.slice(n - cycles * cycle);
    const means = Array.from({ length: cycles }, (_, k) => recent.slice(k * cycle, (k + 1) * cycle).reduce((x, y) => x + y, 0) / cycle);
    if (!shouldReplan(p.predictedRoundMs, means, this.threshold)) return undefined;
    return `round time drifted from the predicted ${p.predictedRoundMs.toFixed(0)} ms`;
  }

  /** The prediction in force, if any (a copy). */
  get prediction(): ReplanPrediction | undefined {
    return this.state.prediction ? { ...this.state.prediction } : undefined;
  }

  /** The state as plain JSON data (a copy). */
  toJSON(): ReplanPolicyState {
    const s = this.state;
    return { ...s, prediction: s.prediction ? { ...s.prediction } : null, recentRoundMs: [...s.recentRoundMs] };
  }

  /** A policy with `options` and the state `json` (from `toJSON`, possibly through JSON.parse); throws on malformed state. */
  static fromJSON(json: unknown, options: ReplanPolicyOptions): ReplanPolicy {
    return new ReplanPolicy(options, json as ReplanPolicyState);
  }
}

function checkState(json: ReplanPolicyState): ReplanPolicyState {
  const bad = (why: string): never => {
    throw new TypeError(`replan policy state: ${why}`);
  };
  if (typeof json !== 'object' || json === null) bad('not an object');
  const { fleetChanged, warmupRetry, prediction, lastPlannedRound, recentRoundMs } = json;
  if (typeof fleetChanged !== 'boolean') bad('fleetChanged must be a boolean');
  if (typeof warmupRetry !== 'boolean') bad('warmupRetry must be a boolean');
  if (!Number.isSafeInteger(lastPlannedRound) || lastPlannedRound < 0) bad('lastPlannedRound must be an integer >= 0');
  if (!Array.isArray(recentRoundMs) || !recentRoundMs.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    bad('recentRoundMs must be finite numbers >= 0');
  }
  let p: ReplanPrediction | null = null;
  if (prediction !== null) {
    if (typeof prediction !== 'object' || prediction === undefined) bad('prediction must be an object or null');
    const { planVersion, predictedRoundMs, since } = prediction;
    if (!Number.isSafeInteger(planVersion) || planVersion < 0) bad('prediction.planVersion must be an integer >= 0');
    if (!Number.isSafeInteger(since) || since < 0) bad('prediction.since must be an integer >= 0');
    if (typeof predictedRoundMs !== 'number' || !(predictedRoundMs > 0) || !Number.isFinite(predictedRoundMs)) {
      bad('prediction.predictedRoundMs must be a finite number > 0');
    }
    p = { planVersion, predictedRoundMs, since };
  }
  return { fleetChanged, warmupRetry, prediction: p, lastPlannedRound, recentRoundMs: [...recentRoundMs] };
}
