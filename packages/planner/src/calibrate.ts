/**
 * Calibration of the surrogate from observed runs (our procedure; the paper's
 * bound fixes only the shape). With y = 1 / R and S = divergence(plan):
 *
 *   y = gamma / (2 theta) * (eps - A)  -  gamma / (2 theta) * C * S  =  a - b S
 *
 * so theta and C follow from a weighted least-squares line through
 * (S_k, 1/R_k) with weights R_k^2 (i.e. minimising relative error in R).
 * gamma, eps and A stay as given: only theta/gamma and C/(eps - A) are
 * identifiable from rounds alone.
 */
import { divergence, roundsFromDivergence } from './surrogate.js';
import { assertPlan, assertSurrogate } from './validate.js';
import type { Plan, SurrogateParams, TierCopies } from './types.js';

export interface RoundsObservation {
  plan: Plan;
  /** Rounds the run took to reach the target. */
  rounds: number;
}

export interface CalibrateOptions {
  /** Which constants to fit (default 'both'; falls back to 'theta' if every observation has the same S). */
  fit?: 'both' | 'theta' | 'C';
  copies?: TierCopies;
}

export interface CalibrationResult {
  params: SurrogateParams;
  fitted: Array<'theta' | 'C'>;
  /** Root-mean-square relative error of the fitted R on the observations. */
  rmsRelError: number;
}

export function calibrate(
  params: SurrogateParams,
  observations: RoundsObservation[],
  L: number,
  opts: CalibrateOptions = {},
): CalibrationResult {
  assertSurrogate(params, L);
  if (observations.length === 0) throw new RangeError('calibrate needs at least one observation');
  const margin = params.eps - params.A;
  if (!(margin > 0)) throw new RangeError(`calibrate needs eps > A (eps=${params.eps}, A=${params.A})`);
  const S: number[] = [];
  const y: number[] = [];
  observations.forEach((o, k) => {
    assertPlan(o.plan, L);
    if (!(o.rounds > 0) || !Number.isFinite(o.rounds)) throw new RangeError(`observation ${k}: rounds must be a finite number > 0, got ${o.rounds}`);
    S.push(divergence(params.G2, o.plan, opts.copies));
    y.push(1 / o.rounds);
  });
  const w = y.map((v) => 1 / (v * v));
  const W = w.reduce((s, v) => s + v, 0);
  const Sbar = S.reduce((s, v, k) => s + w[k] * v, 0) / W;
  const ybar = y.reduce((s, v, k) => s + w[k] * v, 0) / W;
  const varS = S.reduce((s, v, k) => s + w[k] * (v - Sbar) ** 2, 0);

  let mode = opts.fit ?? 'both';
  if (mode === 'both' && !(varS > 1e-12 * (1 + Sbar * Sbar) * W)) mode = 'theta';
  let theta = params.theta;
  let C = params.C;
  let fitted: Array<'theta' | 'C'>;
  if (mode === 'both') {
    const cov = S.reduce((s, v, k) => s + w[k] * (v - Sbar) * (y[k] - ybar), 0);
    let b = -cov / varS;
    let a = ybar + b * Sbar;
    if (b < 0) { b = 0; a = ybar; } // more divergence never means fewer rounds
    theta = (params.gamma * margin) / (2 * a);
    C = (margin * b) / a;
    fitted = ['theta', 'C'];
  } else if (mode === 'theta') {
    const D = S.map((s) => margin - C * s);
    if (D.some((d) => !(d > 0))) throw new RangeError('calibrate: an observed plan has a non-positive denominator with the current C; fit C too');
    const k = D.reduce((s, d, i) => s + w[i] * y[i] * d, 0) / D.reduce((s, d, i) => s + w[i] * d * d, 0);
    theta = params.gamma / (2 * k);
    fitted = ['theta'];
  } else {
    const k = params.gamma / (2 * theta);
    const den = k * S.reduce((s, v, i) => s + w[i] * v * v, 0);
    if (!(den > 0)) throw new RangeError('calibrate: fitting C needs an observation with an aggregation interval > 1');
    C = Math.max(0, S.reduce((s, v, i) => s + w[i] * v * (k * margin - y[i]), 0) / den);
    fitted = ['C'];
  }
  const out: SurrogateParams = { ...params, G2: [...params.G2], theta, C };
  let se = 0;
  observations.forEach((o, k) => {
    const r = roundsFromDivergence(out, S[k]);
    se += ((r - o.rounds) / o.rounds) ** 2;
  });
  return { params: out, fitted, rmsRelError: Math.sqrt(se / observations.length) };
}
