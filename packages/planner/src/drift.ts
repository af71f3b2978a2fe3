/**
 * Drift rule for re-planning: true when the median of the recent measured
 * round times differs from the prediction by more than `threshold` (relative).
 * Non-finite or negative measurements are ignored; with none left, false.
 * A non-positive or non-finite prediction always asks for a re-plan.
 */
export function shouldReplan(predictedRoundMs: number, measuredRoundMs: number[], threshold = 0.25): boolean {
  if (!(threshold >= 0)) throw new RangeError(`threshold must be >= 0, got ${threshold}`);
  const xs = measuredRoundMs.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b);
  if (xs.length === 0) return false;
  if (!(predictedRoundMs > 0) || !Number.isFinite(predictedRoundMs)) return true;
  const mid = xs.length >> 1;
  const median = xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  return Math.abs(median - predictedRoundMs) / predictedRoundMs > threshold;
}
