// Tensor codec: Float32Array / Int32Array <-> the Tensor message.
//
// Wire format: Tensor.data holds the values little-endian, in row-major
// order, encoded per Tensor.codec:
//   CODEC_RAW   4 bytes per value (float32 or int32)
//   CODEC_FP16  2 bytes per value, IEEE 754 binary16 (float32 tensors only)
//   CODEC_INT8  1 byte per value, value = int8 * scale (float32 tensors only)
//
// Decoding a raw tensor on a little-endian host returns a view on the
// payload's own ArrayBuffer when the data bytes are 4-byte aligned (the
// encoder in messages.ts pads them to be), and a copy otherwise. On a
// big-endian host every raw tensor is copied and byte-swapped (DataView
// with littleEndian = true); fp16 and int8 are read byte-wise and need no
// swap.
import { Codec, DType, type Tensor, type TensorInit } from './generated/hsfl.js';
import { ProtocolError } from './errors.js';

export type TensorDType = 'float32' | 'int32';
export type TensorCodecName = 'raw' | 'fp16' | 'int8';

export interface FloatTensor {
  dtype: 'float32';
  shape: number[];
  data: Float32Array;
}
export interface IntTensor {
  dtype: 'int32';
  shape: number[];
  data: Int32Array;
}
export type DecodedTensor = FloatTensor | IntTensor;
export type DecodedTensorOf<D extends TensorDType> = D extends 'float32' ? FloatTensor : D extends 'int32' ? IntTensor : DecodedTensor;

/** Anything shaped like a Tensor message (decoded or built by encodeTensor). */
export type TensorLike = Tensor | TensorInit;

/** Most dimensions a tensor may have. */
export const MAX_RANK = 8;
/** Largest tensor, in elements, decodeTensor accepts unless told otherwise (256 Mi). */
export const MAX_TENSOR_ELEMENTS = 256 * 1024 * 1024;

export interface DecodeTensorOptions {
  /** Always return a fresh copy, never a view on the payload. */
  copy?: boolean;
  /** Reject tensors with more elements ('limit'). Default MAX_TENSOR_ELEMENTS. */
  maxElements?: number;
}

const EMPTY = new Uint8Array(0);

let hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Whether this host is little-endian (true on x86, ARM as run by Node). */
export function isHostLittleEndian(): boolean {
  return hostLittleEndian;
}

/** Tests only: pretend to be a big-endian host to exercise the swap paths. */
export function __setHostLittleEndianForTests(le: boolean): void {
  hostLittleEndian = le;
}

export function codecName(codec: Codec | number): TensorCodecName {
  switch (codec) {
    case Codec.CODEC_RAW: return 'raw';
    case Codec.CODEC_FP16: return 'fp16';
    case Codec.CODEC_INT8: return 'int8';
    default: throw new ProtocolError('bad_tensor', `unknown codec ${codec}`);
  }
}

export function codecValue(codec: TensorCodecName | Codec | number): Codec {
  if (typeof codec === 'number') {
    codecName(codec); // validates
    return codec as Codec;
  }
  switch (codec) {
    case 'raw': return Codec.CODEC_RAW;
    case 'fp16': return Codec.CODEC_FP16;
    case 'int8': return Codec.CODEC_INT8;
    default: throw new ProtocolError('bad_tensor', `unknown codec ${String(codec)}`);
  }
}

/** Number of elements of a shape; throws 'bad_shape' for non-integer or negative dims. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new ProtocolError('bad_shape', `bad dimension ${d} in [${shape.join(', ')}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new ProtocolError('bad_shape', `shape [${shape.join(', ')}] is too large`);
  return n;
}

// ---------------------------------------------------------------- encode

/**
 * Builds a Tensor message. With the raw codec on a little-endian host
 * `data` is referenced, not copied: do not modify it until the message has
 * been encoded (encodeMessage copies it into the payload).
 * fp16: finite values beyond +-65504 throw 'bad_tensor' (they would become
 * Infinity); NaN/Infinity are kept as such (the receiver rejects them).
 * int8: symmetric, scale = max|x| / 127; NaN/Infinity throw 'not_finite'.
 */
export function encodeTensor(
  data: Float32Array | Int32Array,
  shape: readonly number[],
  codec: TensorCodecName | Codec = 'raw',
): Tensor {
  if (!(data instanceof Float32Array) && !(data instanceof Int32Array)) {
    throw new ProtocolError('bad_tensor', 'encodeTensor takes a Float32Array or an Int32Array');
  }
  if (shape.length > MAX_RANK) throw new ProtocolError('bad_shape', `rank ${shape.length} > ${MAX_RANK}`);
  const n = shapeSize(shape);
  if (n !== data.length) {
    throw new ProtocolError('bad_shape', `shape [${shape.join(', ')}] holds ${n} values, the array ${data.length}`);
  }
  const c = codecValue(codec);
  const isFloat = data instanceof Float32Array;
  if (!isFloat && c !== Codec.CODEC_RAW) throw new ProtocolError('bad_tensor', 'int32 tensors are sent raw only');
  const base = { dtype: isFloat ? DType.DTYPE_FLOAT32 : DType.DTYPE_INT32, shape: shape.slice(), codec: c, scale: 0, pad: EMPTY };
  switch (c) {
    case Codec.CODEC_RAW:
      return { ...base, data: rawBytes(data) };
    case Codec.CODEC_FP16:
      return { ...base, data: floatsToHalf(data as Float32Array) };
    case Codec.CODEC_INT8: {
      const { bytes, scale } = floatsToInt8(data as Float32Array);
      return { ...base, data: bytes, scale };
    }
  }
}

function rawBytes(data: Float32Array | Int32Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (hostLittleEndian) return view;
  return swap32(view);
}

/** Copy of `src` with every 4-byte word reversed. */
function swap32(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 4) {
    out[i] = src[i + 3]!;
    out[i + 1] = src[i + 2]!;
    out[i + 2] = src[i + 1]!;
    out[i + 3] = src[i]!;
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 bits -> binary16 bits, round to nearest even. -1 when a finite value overflows. */
function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x477ff000) {
    // >= 65520: rounds to Infinity in binary16
    if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >>> 13) & 0x3ff); // NaN (stays NaN)
    if (abs === 0x7f800000) return sign | 0x7c00; // Infinity
    return -1; // finite overflow
  }
  if (abs >= 0x38800000) {
    // normal: rebias the exponent, round the mantissa to 10 bits
    return sign | ((abs - 0x37fff001 + ((abs >>> 13) & 1)) >>> 13);
  }
  // subnormal or zero: value / 2^-24, rounded to nearest even
  const e = abs >>> 23;
  const shift = 126 - e; // >= 14
  if (shift > 24) return sign;
  const mant = (abs & 0x7fffff) | 0x800000;
  let r = mant >>> shift;
  const rem = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (r & 1) === 1)) r++;
  return sign | r;
}

function floatsToHalf(src: Float32Array): Uint8Array {
  const n = src.length;
  const out = new Uint8Array(n * 2);
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  // Little-endian host: write whole 16-bit words (out is fresh, so aligned).
  const words = hostLittleEndian ? new Uint16Array(out.buffer, 0, n) : null;
  for (let i = 0; i < n; i++) {
    const x = bits[i]!;
    const abs = x & 0x7fffffff;
    let h: number;
    if (abs >= 0x38800000 && abs < 0x477ff000) {
      // fast path, normal range: rebias the exponent, round the mantissa to nearest even
      h = ((x >>> 16) & 0x8000) | ((abs - 0x37fff001 + ((abs >>> 13) & 1)) >>> 13);
    } else if (abs === 0) {
      h = (x >>> 16) & 0x8000;
    } else {
      h = halfBits(x);
      if (h < 0) throw new ProtocolError('bad_tensor', `value ${src[i]} at ${i} is outside the fp16 range (+-65504)`);
    }
    if (words) words[i] = h;
    else {
      out[2 * i] = h & 0xff;
      out[2 * i + 1] = h >>> 8;
    }
  }
  return out;
}

let halfTable: Float32Array | undefined;

/** binary16 bits -> float32 value, for all 65536 patterns (256 KiB, built once). */
function getHalfTable(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  halfTable = t;
  return t;
}

/** binary16 value nearest to x (what an fp16 round trip yields), for tests and error bounds. */
export function roundToHalf(x: number): number {
  f32[0] = x;
  const h = halfBits(u32[0]!);
  return h < 0 ? (x < 0 ? -Infinity : Infinity) : getHalfTable()[h]!;
}

function floatsToInt8(src: Float32Array): { bytes: Uint8Array; scale: number } {
  const n = src.length;
  let maxAbs = 0;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    bad += v - v; // NaN iff v is NaN or +-Infinity
    const a = v < 0 ? -v : v;
    if (a > maxAbs) maxAbs = a;
  }
  if (bad !== 0) throw new ProtocolError('not_finite', 'int8 cannot encode NaN or Infinity');
  const out = new Int8Array(n);
  const scale = Math.fround(maxAbs / 127);
  if (scale > 0) {
    const inv = 1 / scale;
    // |src[i] * inv| <= 127 (+ rounding), so no clamping is needed. Adding and
    // subtracting 1.5 * 2^52 rounds a double to the nearest integer (ties to
    // even) without Math.round, which is several times slower here.
    const MAGIC = 6755399441055744;
    for (let i = 0; i < n; i++) out[i] = src[i]! * inv + MAGIC - MAGIC;
  }
  return { bytes: new Uint8Array(out.buffer), scale };
}

// ---------------------------------------------------------------- decode

export interface TensorInfo {
  dtype: TensorDType;
  codec: Codec;
  shape: number[];
  elements: number;
  data: Uint8Array;
  scale: number;
}

/**
 * Structural check of a Tensor message without touching the values: known
 * dtype and codec, codec allowed for the dtype, sane shape, byte length =
 * elements x bytes per element, finite int8 scale. Throws 'bad_tensor'
 * ('bad_shape' for rank, 'limit' for size).
 */
export function tensorInfo(t: TensorLike | null | undefined, maxElements = MAX_TENSOR_ELEMENTS): TensorInfo {
  if (t == null || typeof t !== 'object') throw new ProtocolError('bad_tensor', 'tensor missing');
  const dtypeValue = t.dtype ?? DType.DTYPE_FLOAT32;
  const codec = (t.codec ?? Codec.CODEC_RAW) as Codec;
  const data = t.data ?? EMPTY;
  const shape = t.shape ?? [];
  if (!(data instanceof Uint8Array)) throw new ProtocolError('bad_tensor', 'tensor data is not bytes');
  if (!Array.isArray(shape)) throw new ProtocolError('bad_tensor', 'tensor shape is not an array');
  let dtype: TensorDType;
  if (dtypeValue === DType.DTYPE_FLOAT32) dtype = 'float32';
  else if (dtypeValue === DType.DTYPE_INT32) dtype = 'int32';
  else throw new ProtocolError('bad_tensor', `unknown dtype ${dtypeValue}`);
  let itemBytes: number;
  if (codec === Codec.CODEC_RAW) itemBytes = 4;
  else if (codec === Codec.CODEC_FP16) itemBytes = 2;
  else if (codec === Codec.CODEC_INT8) itemBytes = 1;
  else throw new ProtocolError('bad_tensor', `unknown codec ${codec}`);
  if (dtype === 'int32' && codec !== Codec.CODEC_RAW) throw new ProtocolError('bad_tensor', 'int32 tensors must use the raw codec');
  if (shape.length > MAX_RANK) throw new ProtocolError('bad_shape', `rank ${shape.length} > ${MAX_RANK}`);
  let elements = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ProtocolError('bad_shape', `bad dimension ${d}`);
    elements *= d;
    if (elements > maxElements) {
      throw new ProtocolError('limit', `shape [${shape.join(', ')}] exceeds ${maxElements} elements`);
    }
  }
  if (data.byteLength !== elements * itemBytes) {
    throw new ProtocolError('bad_tensor', `shape [${shape.join(', ')}] ${dtype}/${codecName(codec)} needs ${elements * itemBytes} bytes, got ${data.byteLength}`);
  }
  const scale = t.scale ?? 0;
  if (codec === Codec.CODEC_INT8 && !Number.isFinite(scale)) throw new ProtocolError('bad_tensor', `int8 scale ${scale} is not finite`);
  return { dtype, codec, shape, elements, data, scale };
}

/**
 * Decodes a Tensor message into a typed array. Raw tensors come back as a
 * view on the message bytes (no copy) when they are 4-byte aligned, as a
 * copy otherwise; fp16 and int8 always decode into a new Float32Array.
 * The returned shape is a copy. Throws ProtocolError (see tensorInfo).
 */
export function decodeTensor(t: TensorLike | null | undefined, opts: DecodeTensorOptions = {}): DecodedTensor {
  const info = tensorInfo(t, opts.maxElements);
  const shape = info.shape.slice();
  const n = info.elements;
  const data = info.data;
  if (info.codec === Codec.CODEC_RAW) {
    if (info.dtype === 'float32') return { dtype: 'float32', shape, data: readRaw(data, n, Float32Array, opts.copy === true) };
    return { dtype: 'int32', shape, data: readRaw(data, n, Int32Array, opts.copy === true) };
  }
  if (info.codec === Codec.CODEC_FP16) return { dtype: 'float32', shape, data: halfToFloats(data, n) };
  return { dtype: 'float32', shape, data: int8ToFloats(data, n, info.scale) };
}

type Ctor<A> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): A; new (length: number): A };

function readRaw<A extends Float32Array | Int32Array>(data: Uint8Array, n: number, C: Ctor<A>, copy: boolean): A {
  if (hostLittleEndian) {
    if (!copy && (data.byteOffset & 3) === 0) return new C(data.buffer, data.byteOffset, n);
    const out = new C(n);
    new Uint8Array(out.buffer).set(data);
    return out;
  }
  // big-endian host: swap while copying
  const out = new C(n);
  new Uint8Array(out.buffer).set(swap32(data));
  return out;
}

function halfToFloats(data: Uint8Array, n: number): Float32Array {
  const table = getHalfTable();
  const out = new Float32Array(n);
  if (hostLittleEndian && (data.byteOffset & 1) === 0) {
    const h = new Uint16Array(data.buffer, data.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = table[h[i]!]!;
  } else {
    for (let i = 0; i < n; i++) out[i] = table[data[2 * i]! | (data[2 * i + 1]! << 8)]!;
  }
  return out;
}

function int8ToFloats(data: Uint8Array, n: number, scale: number): Float32Array {
  const q = new Int8Array(data.buffer, data.byteOffset, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = q[i]! * scale;
  return out;
}
