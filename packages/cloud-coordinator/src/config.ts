import { MAX_BATCH_SIZE } from '@hsfl/protocol';
import { AGGREGATORS } from '@hsfl/tier-engine';

/** What a training run is asked to do: the trial description and its plan knobs. */
export interface TrialConfig {
  name: string;
  model: string;
  c1: number;
  c2: number;
  i1: number;
  i2: number;
  batchSize: number;
  lr: number;
  rounds: number;
  evalEvery: number;
  seed: number;
  deadlineMs: number;
  codec: 'raw' | 'fp16' | 'int8';
  minEdges: number;
  minDevices: number;
  joinTimeoutMs: number;
  /** Stop early once the assembled model's test accuracy reaches this. */
  targetAccuracy?: number;
  /**
   * 'auto': the planner chooses cuts and intervals after the warm-up rounds
   * (which run the configured c1, c2, i1, i2) and re-plans when the fleet
   * changes or round times drift; 'off': the configured plan throughout.
   */
  planner: 'off' | 'auto';
  warmupRounds: number;
  /** Re-plan when the median measured round time is off the prediction by more than this fraction. */
  replanThreshold: number;
  /** How copies of a tier are combined at a sync (the tier engine's registry; default 'fedavg'). */
  aggregator?: string;
}

export const DEFAULT_TRIAL: TrialConfig = {
  name: 'mnist-trial',
  model: 'cnn-mnist',
  c1: 2,
  c2: 5,
  i1: 2,
  i2: 4,
  batchSize: 32,
  lr: 0.1,
  rounds: 300,
  evalEvery: 20,
  seed: 1,
  deadlineMs: 30000,
  codec: 'raw',
  minEdges: 1,
  minDevices: 1,
  joinTimeoutMs: 120000,
  planner: 'off',
  warmupRounds: 10,
  replanThreshold: 0.25,
};

const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

/**
 * The range of every numeric field of a trial (inclusive unless said). The
 * upper bounds are far beyond any real trial; they exist so that input such
 * as warmupRounds 1e308 is refused with a clear message instead of being
 * stored and acted on. The API's body schema (api/schemas.ts) uses the same table.
 */
export const TRIAL_LIMITS = {
  c1: { integer: true, min: 0, max: 1000 },
  c2: { integer: true, min: 0, max: 1000 },
  i1: { integer: true, min: 1, max: 1000 },
  i2: { integer: true, min: 1, max: 1000 },
  batchSize: { integer: true, min: 1, max: MAX_BATCH_SIZE },
  rounds: { integer: true, min: 1, max: 10_000_000 },
  evalEvery: { integer: true, min: 0, max: 10_000_000 },
  seed: { integer: true, min: 0, max: 0xffffffff },
  deadlineMs: { integer: true, min: 100, max: 3_600_000 },
  minEdges: { integer: true, min: 1, max: 10_000 },
  minDevices: { integer: true, min: 0, max: 1_000_000 },
  joinTimeoutMs: { integer: true, min: 1, max: 7 * 24 * 3600 * 1000 },
  warmupRounds: { integer: true, min: 1, max: 1_000_000 },
  /** (0, 10]: a positive learning rate. */
  lr: { integer: false, min: 0, max: 10, exclusiveMin: true },
  /** (0, 1]. */
  targetAccuracy: { integer: false, min: 0, max: 1, exclusiveMin: true },
  /** (0, 10): a fraction of the predicted round time. */
  replanThreshold: { integer: false, min: 0, max: 10, exclusiveMin: true, exclusiveMax: true },
} as const satisfies Record<string, { integer: boolean; min: number; max: number; exclusiveMin?: boolean; exclusiveMax?: boolean }>;

export type TrialNumberField = keyof typeof TRIAL_LIMITS;

/** The problem with one numeric field, or undefined when it is within TRIAL_LIMITS. */
function numberProblem(k: TrialNumberField, v: unknown): string | undefined {
  const l: { integer: boolean; min: number; max: number; exclusiveMin?: boolean; exclusiveMax?: boolean } = TRIAL_LIMITS[k];
  const lo = l.exclusiveMin ? '(' : '[';
  const hi = l.exclusiveMax ? ')' : ']';
  const range = `${lo}${l.min}, ${l.max}${hi}`;
  const shown = typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v) ?? String(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${k} must be a ${l.integer ? 'whole ' : ''}number in ${range} (got ${shown})`;
  if (l.integer && !Number.isInteger(v)) return `${k} must be a whole number in ${range} (got ${shown})`;
  const below = l.exclusiveMin ? v <= l.min : v < l.min;
  const above = l.exclusiveMax ? v >= l.max : v > l.max;
  if (below || above) return `${k} must be ${l.integer ? 'a whole number' : 'a number'} in ${range} (got ${shown})`;
  return undefined;
}

const OPTIONAL_NUMBERS: readonly TrialNumberField[] = ['targetAccuracy', 'warmupRounds', 'replanThreshold'];

/** Returns the problems of a trial description, one readable line each. */
export function trialProblems(t: TrialConfig, numUnits?: number): string[] {
  const p: string[] = [];
  if (!t.name || typeof t.name !== 'string') p.push('name must be a non-empty string');
  for (const k of Object.keys(TRIAL_LIMITS) as TrialNumberField[]) {
    if (t[k] === undefined && OPTIONAL_NUMBERS.includes(k)) continue;
    const problem = numberProblem(k, t[k]);
    if (problem) p.push(problem);
  }
  if (int(t.c1) && int(t.c2) && t.c2 < t.c1) p.push(`c2 must be a whole number >= c1 (got c1=${t.c1}, c2=${t.c2})`);
  if (numUnits !== undefined && t.c2 > numUnits) p.push(`c2 must be <= ${numUnits}, the number of units of ${t.model} (got ${t.c2})`);
  if (!['raw', 'fp16', 'int8'].includes(t.codec)) p.push(`codec must be raw, fp16 or int8 (got ${t.codec})`);
  if (t.planner !== undefined && !['off', 'auto'].includes(t.planner)) p.push(`planner must be off or auto (got ${t.planner})`);
  if (t.aggregator !== undefined && !AGGREGATORS.includes(t.aggregator)) p.push(`aggregator must be one of ${AGGREGATORS.join(', ')} (got ${t.aggregator})`);
  return p;
}

/** Problems of a plan change asked for mid-run (cuts of a model of numUnits units, intervals), one line each. */
export function planChangeProblems(change: { c1: number; c2: number; i1: number; i2: number }, numUnits: number): string[] {
  const p: string[] = [];
  if (!int(change.c1) || !int(change.c2) || change.c1 < 0 || change.c1 > change.c2 || change.c2 > numUnits) {
    p.push(`cuts must satisfy 0 <= c1 <= c2 <= ${numUnits}; got c1=${change.c1}, c2=${change.c2}`);
  }
  if (!int(change.i1) || !int(change.i2) || change.i1 < 1 || change.i2 < 1 || change.i1 > 1000 || change.i2 > 1000) {
    p.push(`intervals must be whole numbers in [1, 1000]; got i1=${change.i1}, i2=${change.i2}`);
  }
  return p;
}
