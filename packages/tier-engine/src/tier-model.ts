// A tier's copy of its units on flat arrays: the roles hand in and get back
// Float32Arrays and never touch tf tensors, tidy or dispose. forward() keeps
// its input for the backward that follows; a new forward or discard()
// releases it.
import { tf, SubModel, modelInfo } from '@hsfl/runtime';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export interface TopStep {
  /** SUM-loss gradient w.r.t. the input, or null when not wanted. */
  dx: Float32Array | null;
  lossSum: number;
  correct: number;
}

export class TierModel {
  private saved?: { x: tf.Tensor; n: number };

  private constructor(private readonly sub: SubModel) {
    // The planner's warm-up statistics come from every tier's gradient norms.
    sub.trackGradNorms = true;
  }

  /** Units [start, end) of `model` with the seeded initial weights. */
  static create(model: string, start: number, end: number, seed: number): TierModel {
    return new TierModel(SubModel.create(model, start, end, seed));
  }

  get model(): string {
    return this.sub.modelName;
  }

  get start(): number {
    return this.sub.start;
  }

  get end(): number {
    return this.sub.end;
  }

  get isEmpty(): boolean {
    return this.sub.isEmpty;
  }

  get isTop(): boolean {
    return this.sub.end === modelInfo(this.sub.modelName).numUnits;
  }

  /** Values per sample entering and leaving these units. */
  get inPerSample(): number {
    return prod(this.sub.inputShape());
  }

  get outPerSample(): number {
    return prod(this.sub.outputShape());
  }

  inputShape(): number[] {
    return this.sub.inputShape();
  }

  outputShape(): number[] {
    return this.sub.outputShape();
  }

  /** Whether this copy holds units [start, end) of `model`. */
  holds(model: string, start: number, end: number): boolean {
    return this.sub.modelName === model && this.sub.start === start && this.sub.end === end;
  }

  /** Forward of n samples; keeps x for backward(). */
  forward(x: Float32Array, n: number): Float32Array {
    this.discard();
    // A copy: some backends keep the array they are given, and the caller's may change before backward().
    const xt = tf.tensor(x.slice(), [n, ...this.sub.inputShape()]);
    try {
      const y = this.sub.forward(xt);
      const out = (y.dataSync() as Float32Array).slice();
      y.dispose();
      this.saved = { x: xt, n };
      return out;
    } catch (err) {
      xt.dispose();
      throw err;
    }
  }

  /**
   * Back-propagates the SUM-loss gradient dy of the last forward, steps on
   * the mean over its n samples, and returns the SUM-loss gradient w.r.t.
   * the input when wanted.
   */
  backward(dy: Float32Array, lr: number, wantInputGrad: boolean): Float32Array | null {
    const s = this.saved;
    if (!s) throw new Error('backward without a forward');
    this.saved = undefined;
    const dyt = tf.tensor(dy, [s.n, ...this.sub.outputShape()]);
    try {
      const dx = this.sub.backward(s.x, dyt, s.n, lr, wantInputGrad);
      if (!dx) return wantInputGrad ? new Float32Array(s.n * this.inPerSample) : null;
      const out = (dx.dataSync() as Float32Array).slice();
      dx.dispose();
      return out;
    } finally {
      dyt.dispose();
      s.x.dispose();
    }
  }

  /** The top of the model: loss, SGD step on the mean over n, SUM-loss input gradient. */
  trainTop(x: Float32Array, labels: Int32Array, n: number, lr: number, wantInputGrad: boolean): TopStep {
    this.discard();
    const xt = tf.tensor(x, [n, ...this.sub.inputShape()]);
    const yt = tf.tensor1d(labels, 'int32');
    try {
      const out = this.sub.trainTop(xt, yt, lr, wantInputGrad);
      let dx: Float32Array | null = null;
      if (out.dxSum) {
        dx = out.dxSum.dataSync() as Float32Array;
        out.dxSum.dispose();
      } else if (wantInputGrad) {
        dx = new Float32Array(n * this.inPerSample);
      }
      return { dx, lossSum: out.lossSum, correct: out.correct };
    } finally {
      xt.dispose();
      yt.dispose();
    }
  }

  /** Squared norms of each unit's mean-loss gradient in the last step ([] before any). */
  get lastUnitGradSq(): number[] {
    return this.sub.lastUnitGradSq ?? [];
  }

  getWeights(): Float32Array[] {
    return this.sub.getWeights();
  }

  setWeights(ws: Float32Array[]): void {
    this.sub.setWeights(ws);
  }

  weightShapes(): number[][] {
    return this.sub.weightShapes();
  }

  /** Drops the input kept for a backward that will not come. */
  discard(): void {
    this.saved?.x.dispose();
    this.saved = undefined;
  }

  dispose(): void {
    this.discard();
    this.sub.dispose();
  }
}
