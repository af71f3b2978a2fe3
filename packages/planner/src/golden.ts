const INV_PHI = (Math.sqrt(5) - 1) / 2;

/**
 * Golden-section search for the minimum of a quasiconvex f on [lo, hi].
 * f may be +Infinity on a right-hand part of the interval (an infeasible
 * region): ties, including Infinity = Infinity, move the bracket left.
 * Returns the best point evaluated (the ends included).
 */
export function goldenMin(f: (x: number) => number, lo: number, hi: number, tol = 1e-4, maxIter = 80): { x: number; fx: number } {
  let best = { x: lo, fx: f(lo) };
  const consider = (x: number, fx: number) => {
    if (fx < best.fx) best = { x, fx };
  };
  if (hi <= lo) return best;
  consider(hi, f(hi));
  let a = lo;
  let b = hi;
  let c = b - INV_PHI * (b - a);
  let d = a + INV_PHI * (b - a);
  let fc = f(c);
  let fd = f(d);
  consider(c, fc);
  consider(d, fd);
  for (let k = 0; k < maxIter && b - a > tol; k++) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - INV_PHI * (b - a);
      fc = f(c);
      consider(c, fc);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + INV_PHI * (b - a);
      fd = f(d);
      consider(d, fd);
    }
  }
  return best;
}
