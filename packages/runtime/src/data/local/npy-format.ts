// The NumPy .npy format (versions 1.0, 2.0, 3.0): a magic string, a version, a header length, a Python-dict
// header (descr, fortran_order, shape) padded so the data starts aligned, then the raw C-order array.
// Only what the header says is trusted after checking it; the data itself is read later, by offset.

export type NpyDtype = 'f4' | 'f8' | 'u1' | 'i1' | 'u2' | 'i2' | 'u4' | 'i4' | 'i8' | 'u8';

export const NPY_ITEM_SIZE: Record<NpyDtype, number> = { f4: 4, f8: 8, u1: 1, i1: 1, u2: 2, i2: 2, u4: 4, i4: 4, i8: 8, u8: 8 };

export interface NpyHeader {
  version: [number, number];
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
  itemSize: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Longest header accepted; real headers are ~128 bytes, this only bounds what a corrupt file can make us read. */
export const NPY_MAX_HEADER = 1 << 20;

/** Bytes needed to know the header's length: magic (6) + version (2) + length (2 or 4). */
export const NPY_PREAMBLE = 12;

/** From the first NPY_PREAMBLE bytes: where the header text is. Throws a readable message if not npy. */
export function npyPreamble(b: Uint8Array): { version: [number, number]; headerStart: number; headerLen: number } {
  if (b.length < 10 || !MAGIC.every((m, i) => b[i] === m)) throw new Error('not a .npy file (no \\x93NUMPY magic)');
  const major = b[6]!;
  const minor = b[7]!;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (major === 1) return { version: [major, minor], headerStart: 10, headerLen: dv.getUint16(8, true) };
  if (major === 2 || major === 3) {
    if (b.length < 12) throw new Error('truncated .npy header');
    const len = dv.getUint32(8, true);
    if (len > NPY_MAX_HEADER) throw new Error(`.npy header of ${len} bytes is implausibly long`);
    return { version: [major, minor], headerStart: 12, headerLen: len };
  }
  throw new Error(`unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
}

/**
 * Parses the header dict, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (100, 28, 28), }".
 * Accepts little-endian (or byte-order-free) numeric dtypes in C order; refuses the rest with the reason.
 */
export function parseNpyHeader(text: string, version: [number, number], dataOffset: number): NpyHeader {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined) throw new Error(`.npy header has no simple 'descr' (structured arrays are not supported): ${text.trim()}`);
  if (fortran === undefined || shapeText === undefined) throw new Error(`.npy header lacks fortran_order or shape: ${text.trim()}`);
  if (fortran === 'True') throw new Error('.npy array is in Fortran order; save it C-ordered (np.ascontiguousarray) instead');
  const m = /^([<>|=])([fiu])(\d+)$/.exec(descr);
  if (!m) throw new Error(`.npy dtype '${descr}' is not supported (use float32, float64, uint8 or an integer type)`);
  const [, order, kindChar, sizeText] = m;
  const dtype = `${kindChar}${sizeText}` as NpyDtype;
  if (!(dtype in NPY_ITEM_SIZE)) throw new Error(`.npy dtype '${descr}' is not supported (use float32, float64, uint8 or an integer type)`);
  const itemSize = NPY_ITEM_SIZE[dtype];
  if (order === '>' && itemSize > 1) throw new Error(`.npy dtype '${descr}' is big-endian; save it little-endian (arr.astype('<${dtype}'))`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`.npy shape (${shapeText}) has a bad dimension '${s}'`);
      return n;
    });
  return { version, dtype, shape, dataOffset, itemSize };
}

/** Reads element `i` of a little-endian `dtype` array as a JS number (int64 beyond 2^53 loses precision). */
export function npyGetter(dtype: NpyDtype): (dv: DataView, byteOffset: number) => number {
  switch (dtype) {
    case 'f4': return (dv, o) => dv.getFloat32(o, true);
    case 'f8': return (dv, o) => dv.getFloat64(o, true);
    case 'u1': return (dv, o) => dv.getUint8(o);
    case 'i1': return (dv, o) => dv.getInt8(o);
    case 'u2': return (dv, o) => dv.getUint16(o, true);
    case 'i2': return (dv, o) => dv.getInt16(o, true);
    case 'u4': return (dv, o) => dv.getUint32(o, true);
    case 'i4': return (dv, o) => dv.getInt32(o, true);
    case 'i8': return (dv, o) => Number(dv.getBigInt64(o, true));
    case 'u8': return (dv, o) => Number(dv.getBigUint64(o, true));
  }
}

/**
 * Encodes an array as a version-1.0 .npy file (what np.save writes for small headers), data aligned to 64
 * bytes. Values are converted to `dtype` (integers truncated, uint8 not clamped: pass values in range).
 */
export function encodeNpy(values: ArrayLike<number>, shape: readonly number[], dtype: NpyDtype): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw new Error(`encodeNpy: ${values.length} values for shape [${shape.join(', ')}]`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const descr = NPY_ITEM_SIZE[dtype] === 1 ? `|${dtype}` : `<${dtype}`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const itemSize = NPY_ITEM_SIZE[dtype];
  const out = new Uint8Array(10 + header.length + n * itemSize);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  dv.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const base = 10 + header.length;
  for (let i = 0; i < n; i++) {
    const o = base + i * itemSize;
    const v = values[i]!;
    switch (dtype) {
      case 'f4': dv.setFloat32(o, v, true); break;
      case 'f8': dv.setFloat64(o, v, true); break;
      case 'u1': dv.setUint8(o, v); break;
      case 'i1': dv.setInt8(o, v); break;
      case 'u2': dv.setUint16(o, v, true); break;
      case 'i2': dv.setInt16(o, v, true); break;
      case 'u4': dv.setUint32(o, v, true); break;
      case 'i4': dv.setInt32(o, v, true); break;
      case 'i8': dv.setBigInt64(o, BigInt(Math.trunc(v)), true); break;
      case 'u8': dv.setBigUint64(o, BigInt(Math.trunc(v)), true); break;
    }
  }
  return out;
}
