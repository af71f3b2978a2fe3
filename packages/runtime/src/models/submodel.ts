import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { assignAll, buildRange, initialUnitWeights } from './build.js';
import { type ModelSpec, type WeightSpec, checkRange, modelSpec, specOutputShape } from './zoo.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Units [start, end) of a zoo or registered (imported) model: one tier's copy of its share of the network.
 *
 * Conventions (DESIGN §2): gradients passed between tiers are gradients of the SUM of per-sample losses;
 * every copy steps plain SGD (no momentum, no weight decay) on the MEAN loss of the n samples that went
 * through it: w -= lr * (dSumLoss/dw) / n. Weights whose spec says trainable: false (imported BatchNormalization
 * statistics, frozen layers) are carried but never stepped. Forward passes, including the one backward
 * recomputes, run in inference mode: dropout and noise layers are identities and batch normalisation uses
 * its moving statistics (a random mask could not be the same in a tier's forward and its recomputation).
 */
export class SubModel {
  /**
   * When true, backward/trainTop record in `lastUnitGradSq` the squared L2 norm of each unit's MEAN-loss
   * gradient (one entry per unit of [start, end); 0 for units without weights). Costs one small sync per step.
   */
  trackGradNorms = false;
  lastUnitGradSq: number[] | null = null;
  private disposed = false;
  /** Indices (in weight order) of the weights SGD steps. */
  private readonly trainIdx: number[];

  private constructor(
    readonly modelName: string,
    readonly start: number,
    readonly end: number,
    private readonly spec: ModelSpec,
    private readonly model: tfl.LayersModel | null,
    private readonly lvars: tfl.LayerVariable[],
    private readonly specs: WeightSpec[],
    private readonly unitOfWeight: number[],
  ) {
    this.trainIdx = specs.flatMap((s, i) => (s.trainable === false ? [] : [i]));
  }

  /**
   * Units [start, end) of `modelName` with seeded weights: unit k's initial weights depend only on (seed, k).
   * For an imported model they are the imported file's weights, whatever the seed.
   */
  static create(modelName: string, start: number, end: number, seed: number): SubModel {
    const m = modelSpec(modelName);
    checkRange(m, start, end);
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    if (start === end) return new SubModel(modelName, start, end, m, null, [], [], []);
    const built = buildRange(m, start, end, `${modelName}_${start}_${end}`);
    const init: Float32Array[] = [];
    const unitOf: number[] = [];
    for (let k = start; k < end; k++) {
      const ws = initialUnitWeights(m, k, seed);
      init.push(...ws);
      ws.forEach(() => unitOf.push(k));
    }
    assignAll(built.vars, init);
    return new SubModel(modelName, start, end, m, built.model, built.vars, built.specs, unitOf);
  }

  get isEmpty(): boolean {
    return this.start === this.end;
  }

  inputShape(): number[] {
    return specOutputShape(this.spec, this.start);
  }

  outputShape(): number[] {
    return specOutputShape(this.spec, this.end);
  }

  /** Inference-mode forward of a batch [n, ...inputShape()]; identity (a clone) if empty. Caller disposes. */
  forward(x: tf.Tensor): tf.Tensor {
    this.alive();
    this.checkBatch(x, this.inputShape(), 'x');
    if (!this.model) return x.clone();
    const model = this.model;
    return tf.tidy(() => model.apply(x) as tf.Tensor);
  }

  /**
   * Recomputes the forward of x with a tape, back-propagates dySum (gradient of the SUM loss w.r.t. this copy's
   * output), steps every weight w -= lr * dL/dw / n, and returns the SUM-loss gradient w.r.t. x if
   * wantInputGrad (else null). Empty: returns a clone of dySum (or null).
   */
  backward(x: tf.Tensor, dySum: tf.Tensor, n: number, lr: number, wantInputGrad: boolean): tf.Tensor | null {
    this.alive();
    const batch = this.checkBatch(x, this.inputShape(), 'x');
    this.checkBatch(dySum, this.outputShape(), 'dySum', batch);
    checkStep(n, lr);
    if (!this.model) {
      this.lastUnitGradSq = this.trackGradNorms ? [] : null;
      return wantInputGrad ? dySum.clone() : null;
    }
    const model = this.model;
    const vars = this.trainIdx.map((i) => this.lvars[i]!.read());
    const xs = wantInputGrad ? [x, ...vars] : vars;
    if (xs.length === 0) {
      // No trainable weights (flatten, pooling) and no input gradient wanted: nothing to compute.
      this.lastUnitGradSq = this.trackGradNorms ? new Array<number>(this.end - this.start).fill(0) : null;
      return null;
    }
    const dy = dySum.dtype === 'float32' ? dySum : tf.cast(dySum, 'float32');
    const { value, grads } = tf.engine().gradients(() => model.apply(x) as tf.Tensor, xs, dy);
    value.dispose();
    if (dy !== dySum) dy.dispose();
    const dx = wantInputGrad ? grads[0]! : null;
    this.step(wantInputGrad ? grads.slice(1) : grads, lr, n);
    return dx;
  }

  /**
   * Top of the model: logits = forward(x), softmax cross-entropy against integer labels, SGD step on the
   * MEAN loss over n = x.shape[0]. Returns the SUM-loss gradient w.r.t. x (null unless wantInputGrad), the
   * summed loss and the number of correct argmax predictions. Only valid when end = L.
   */
  trainTop(x: tf.Tensor, labels: tf.Tensor1D, lr: number, wantInputGrad: boolean): { dxSum: tf.Tensor | null; lossSum: number; correct: number } {
    this.alive();
    if (this.end !== this.spec.units.length) throw new Error(`trainTop needs the top of ${this.modelName} (end = ${this.spec.units.length}), this copy ends at ${this.end}`);
    const n = this.checkBatch(x, this.inputShape(), 'x');
    if (labels.rank !== 1 || labels.shape[0] !== n) throw new Error(`labels must have shape [${n}], got [${labels.shape.join(',')}]`);
    checkStep(n, lr);
    const C = this.spec.numClasses;
    const y = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
    const lossOf = (logits: tf.Tensor) => tf.neg(tf.sum(tf.mul(tf.oneHot(y as tf.Tensor1D, C), tf.logSoftmax(logits))));
    let logits: tf.Tensor | null = null;
    let lossT: tf.Tensor;
    let grads: tf.Tensor[] = [];
    const model = this.model;
    const vars = this.trainIdx.map((i) => this.lvars[i]!.read());
    const xs = wantInputGrad ? [x, ...vars] : vars;
    try {
      if (xs.length === 0) {
        // nothing to differentiate (an empty top, or one whose weights are all frozen)
        if (model) logits = tf.tidy(() => model.apply(x) as tf.Tensor);
        const lg = logits ?? x;
        lossT = tf.tidy(() => lossOf(lg));
      } else {
        const r = tf.engine().gradients(() => {
          const l = model ? (model.apply(x) as tf.Tensor) : x;
          logits = model ? tf.keep(l) : null;
          return lossOf(l);
        }, xs);
        lossT = r.value;
        grads = r.grads;
      }
      const stats = tf.tidy(() => {
        const lg = logits ?? x;
        const correct = tf.sum(tf.cast(tf.equal(tf.argMax(lg, 1), y), 'float32'));
        return tf.stack([tf.reshape(lossT, []), correct]);
      });
      const [lossSum, correct] = stats.dataSync();
      stats.dispose();
      lossT.dispose();
      const dx = wantInputGrad ? grads[0]! : null;
      this.step(wantInputGrad ? grads.slice(1) : grads, lr, n);
      return { dxSum: dx, lossSum: lossSum!, correct: Math.round(correct!) };
    } finally {
      (logits as tf.Tensor | null)?.dispose();
      if (y !== labels) y.dispose();
    }
  }

  /** Copies of the weights, in the fixed order of weightShapes(). */
  getWeights(): Float32Array[] {
    this.alive();
    return this.lvars.map((v) => new Float32Array(v.read().dataSync() as Float32Array));
  }

  /** Replaces all weights; throws on a count or length mismatch without changing anything. */
  setWeights(ws: Float32Array[]): void {
    this.alive();
    checkWeightList(ws, this.specs, `${this.modelName}[${this.start},${this.end})`);
    assignAll(this.lvars, ws);
  }

  weightShapes(): number[][] {
    return this.specs.map((s) => s.shape.slice());
  }

  /** tfjs-layers names of the weights (e.g. 'u0_conv1/kernel'), in weight order. */
  weightNames(): string[] {
    return this.specs.map((s) => `${s.layer}/${s.param}`);
  }

  /** Unit index (in the full model) of each weight, in weight order. */
  weightUnits(): number[] {
    return this.unitOfWeight.slice();
  }

  numParams(): number {
    return this.specs.reduce((a, s) => a + prod(s.shape), 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model?.dispose();
  }

  /** grads[j] is the SUM-loss gradient of weight trainIdx[j]. */
  private step(grads: tf.Tensor[], lr: number, n: number): void {
    try {
      if (this.trackGradNorms) {
        const sq = grads.length ? tf.tidy(() => tf.stack(grads.map((g) => tf.sum(tf.square(g)))).dataSync()) : [];
        const perUnit = new Array<number>(this.end - this.start).fill(0);
        this.trainIdx.forEach((i, j) => (perUnit[this.unitOfWeight[i]! - this.start]! += sq[j]! / (n * n)));
        this.lastUnitGradSq = perUnit;
      }
      if (lr === 0) return;
      tf.tidy(() => {
        const scale = tf.scalar(lr / n);
        this.trainIdx.forEach((i, j) => {
          const v = this.lvars[i]!.read() as tf.Variable;
          v.assign(tf.sub(v, tf.mul(grads[j]!, scale)));
        });
      });
    } finally {
      grads.forEach((g) => g.dispose());
    }
  }

  private checkBatch(t: tf.Tensor, shape: number[], what: string, batch?: number): number {
    const got = t.shape;
    if (got.length !== shape.length + 1 || got.slice(1).some((d, i) => d !== shape[i]) || (batch !== undefined && got[0] !== batch)) {
      throw new Error(`${this.modelName}[${this.start},${this.end}): ${what} must be [${batch ?? 'n'},${shape.join(',')}], got [${got.join(',')}]`);
    }
    return got[0]!;
  }

  private alive(): void {
    if (this.disposed) throw new Error(`${this.modelName}[${this.start},${this.end}) is disposed`);
  }
}

function checkStep(n: number, lr: number): void {
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`n must be a positive sample count, got ${n}`);
  if (!Number.isFinite(lr) || lr < 0) throw new Error(`lr must be a finite number >= 0, got ${lr}`);
}

/** Validates a weight list against specs (count, type, length). */
export function checkWeightList(ws: Float32Array[], specs: WeightSpec[], what: string): void {
  if (!Array.isArray(ws) || ws.length !== specs.length) {
    throw new Error(`${what}: expected ${specs.length} weight arrays, got ${Array.isArray(ws) ? ws.length : typeof ws}`);
  }
  specs.forEach((s, i) => {
    const w = ws[i];
    const size = prod(s.shape);
    if (!(w instanceof Float32Array)) throw new Error(`${what}: weight ${i} (${s.layer}/${s.param}) is not a Float32Array`);
    if (w.length !== size) throw new Error(`${what}: weight ${i} (${s.layer}/${s.param}) has ${w.length} values, expected ${size} [${s.shape.join(',')}]`);
  });
}
