// Validation helpers the roles apply to decoded messages. Pure: no I/O, no
// socket.io. Each throws ProtocolError with the code the peer gets back.
import type { CapacityReport, Header, HeaderInit } from './generated/hsfl.js';
import { ProtocolError } from './errors.js';
import {
  decodeTensor, type DecodedTensor, type DecodedTensorOf, type FloatTensor, type TensorDType, type TensorLike,
} from './tensor.js';

export interface ExpectedHeader {
  runId: string;
  planVersion: number;
  /** The round in progress; omit when any round of this run and plan is acceptable. */
  round?: number;
}

/**
 * The header rule: a message belongs to the current run ('wrong_run'), the
 * current plan version ('wrong_plan') and, when `expected.round` is given,
 * the round in progress ('stale': late, repeated or out of turn). A header
 * that fails is dropped with an error reply and changes nothing. Detecting a
 * second copy of a message within the right round (the same child sending
 * twice) is the role's job: it knows what it has already received.
 */
export function checkHeader(h: Header | HeaderInit | null | undefined, expected: ExpectedHeader): void {
  if (h == null) throw new ProtocolError('malformed', 'header missing');
  const runId = h.runId ?? '';
  const planVersion = h.planVersion ?? 0;
  const round = h.round ?? 0;
  if (runId !== expected.runId) {
    throw new ProtocolError('wrong_run', `message for run ${JSON.stringify(runId)}, current run is ${JSON.stringify(expected.runId)}`);
  }
  if (planVersion !== expected.planVersion) {
    throw new ProtocolError('wrong_plan', `message for plan version ${planVersion}, current is ${expected.planVersion}`);
  }
  if (expected.round !== undefined && round !== expected.round) {
    const why = expected.round < 0 ? 'no round is in progress' : round < expected.round ? `round ${expected.round} is in progress (late or repeated)` : `round ${expected.round} is in progress (sender is ahead)`;
    throw new ProtocolError('stale', `message for round ${round}: ${why}`);
  }
}

/** True when every value is finite. One tight pass (v - v is NaN only for NaN/+-Infinity). */
export function allFinite(a: Float32Array | Float64Array): boolean {
  let s = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const v = a[i]!;
    s += v - v;
  }
  return s === 0;
}

/** Index of the first NaN/+-Infinity, or -1. */
export function firstNonFinite(a: Float32Array | Float64Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

export interface TensorSpec<D extends TensorDType = TensorDType> {
  /** Expected shape; null matches any size in that dimension (e.g. the batch). Rank must match. */
  shape?: readonly (number | null)[];
  /** Expected dtype ('bad_tensor' otherwise). */
  dtype?: D;
  /** Reject NaN/+-Infinity ('not_finite'). Default true for float32 tensors. */
  finite?: boolean;
  /** Reject tensors with more elements ('limit'). */
  maxElements?: number;
  /** Always copy the values out of the payload. */
  copy?: boolean;
}

/**
 * Decodes a tensor and checks it against what the plan expects. Returns the
 * decoded tensor (a zero-copy view where possible, see decodeTensor).
 * Throws bad_tensor (missing, inconsistent, wrong dtype), bad_shape,
 * not_finite, limit.
 */
export function expectTensor<D extends TensorDType = TensorDType>(
  t: TensorLike | null | undefined,
  spec: TensorSpec<D> = {},
): DecodedTensorOf<D> {
  const d = decodeTensor(t, { maxElements: spec.maxElements, copy: spec.copy });
  if (spec.dtype !== undefined && d.dtype !== spec.dtype) {
    throw new ProtocolError('bad_tensor', `expected ${spec.dtype}, got ${d.dtype}`);
  }
  if (spec.shape) {
    const want = spec.shape;
    let ok = want.length === d.shape.length;
    for (let i = 0; ok && i < want.length; i++) {
      const w = want[i];
      if (w !== null && w !== undefined && w !== d.shape[i]) ok = false;
    }
    if (!ok) {
      throw new ProtocolError('bad_shape', `expected [${want.map((w) => (w == null ? '*' : String(w))).join(', ')}], got [${d.shape.join(', ')}]`);
    }
  }
  if (d.dtype === 'float32' && spec.finite !== false && !allFinite(d.data)) {
    throw new ProtocolError('not_finite', `value ${d.data[firstNonFinite(d.data)]} at index ${firstNonFinite(d.data)}`);
  }
  return d as DecodedTensorOf<D>;
}

/**
 * Labels: an int32 tensor of shape [n] with every value in [0, numClasses).
 * Returns the values. Throws bad_tensor, bad_shape.
 */
export function checkLabels(t: TensorLike | null | undefined, numClasses: number, n: number): Int32Array {
  const d = expectTensor(t, { dtype: 'int32', shape: [n] });
  const a = d.data;
  let bad = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    bad |= (v < 0 ? 1 : 0) | (v >= numClasses ? 1 : 0);
  }
  if (bad) {
    const i = a.findIndex((v) => v < 0 || v >= numClasses);
    throw new ProtocolError('bad_tensor', `label ${a[i]} at ${i} is outside [0, ${numClasses})`);
  }
  return a;
}

/**
 * Weights of a sub-model: exactly expectedShapes.length float32 tensors with
 * exactly those shapes and finite values. Returns the values in order.
 * Throws bad_shape (count or shape), bad_tensor, not_finite.
 */
export function checkWeights(tensors: readonly (TensorLike | null | undefined)[], expectedShapes: readonly (readonly number[])[]): Float32Array[] {
  if (!Array.isArray(tensors)) throw new ProtocolError('bad_tensor', 'weights are not a list');
  if (tensors.length !== expectedShapes.length) {
    throw new ProtocolError('bad_shape', `expected ${expectedShapes.length} weight tensors, got ${tensors.length}`);
  }
  const out: Float32Array[] = [];
  for (let i = 0; i < tensors.length; i++) {
    let d: FloatTensor;
    try {
      d = expectTensor(tensors[i], { dtype: 'float32', shape: expectedShapes[i]!, finite: true });
    } catch (err) {
      if (err instanceof ProtocolError) throw new ProtocolError(err.code, `weights[${i}]: ${err.detail}`);
      throw err;
    }
    out.push(d.data);
  }
  return out;
}

export type { DecodedTensor };

/**
 * A CapacityReport's figures: one finite, non-negative value per unit of the
 * model for compute and peak memory, and finite, non-negative link figures.
 */
export function checkCapacityFigures(m: CapacityReport, numUnits: number): void {
  for (const xs of [m.fwdMsPerSample, m.bwdMsPerSample, m.peakBytes]) {
    if (xs.length !== numUnits || xs.some((v) => !Number.isFinite(v) || v < 0)) {
      throw new ProtocolError('bad_shape', `capacity needs ${numUnits} finite, non-negative values per unit`);
    }
  }
  for (const v of [m.upBytesPerSec, m.downBytesPerSec, m.rttMs]) {
    if (!Number.isFinite(v) || v < 0) throw new ProtocolError('not_finite', 'link figures must be finite and >= 0');
  }
}

/**
 * A figure a child reports about a round (times, byte counts, gradient
 * norms): finite and >= 0, else 'not_finite'. One bad figure refuses the
 * whole message; it never reaches the store, the planner or the run.
 */
export function checkFigure(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ProtocolError('not_finite', `${what} must be a finite number >= 0, got ${String(v)}`);
  return v;
}
