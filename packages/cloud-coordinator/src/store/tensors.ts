import { endianness } from 'node:os';
import { StoreError } from './errors.js';

/**
 * A tier's weight list as stored: one BLOB of little-endian float32s (the
 * tensors concatenated) plus the element count of each tensor. Bytes are
 * copied, never converted through numbers, so every value (NaN payloads and
 * -0 included) comes back bit for bit.
 */
export interface EncodedTier {
  lengths: number[];
  blob: Buffer;
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export function encodeTier(what: string, tensors: unknown): EncodedTier {
  if (!Array.isArray(tensors)) throw new StoreError('INVALID_INPUT', `${what} must be an array of Float32Array`);
  let total = 0;
  tensors.forEach((t, i) => {
    // Only Float32Array: a Float64Array or plain array would be silently rounded or refused by the blob copy.
    if (!(t instanceof Float32Array)) throw new StoreError('INVALID_INPUT', `${what}[${i}] must be a Float32Array`);
    total += t.length;
  });
  const blob = Buffer.alloc(total * 4);
  let off = 0;
  for (const t of tensors as Float32Array[]) {
    if (LITTLE_ENDIAN_HOST) {
      blob.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), off);
    } else {
      const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
      const src = new DataView(t.buffer, t.byteOffset, t.byteLength);
      // Host order -> little-endian, byte-wise so NaN payloads are not canonicalised.
      for (let i = 0; i < t.length; i++) view.setUint32(off + 4 * i, src.getUint32(4 * i, false), true);
    }
    off += t.byteLength;
  }
  return { lengths: (tensors as Float32Array[]).map((t) => t.length), blob };
}

export function decodeTier(what: string, lengthsJson: string, blob: Buffer): Float32Array[] {
  let lengths: unknown;
  try {
    lengths = JSON.parse(lengthsJson);
  } catch (e) {
    throw new StoreError('CORRUPT', `stored ${what} lengths are not valid JSON`, { cause: e });
  }
  if (!Array.isArray(lengths) || !lengths.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new StoreError('CORRUPT', `stored ${what} lengths are not a list of counts`);
  }
  const total = (lengths as number[]).reduce((a, b) => a + b, 0);
  if (total * 4 !== blob.byteLength) {
    throw new StoreError('CORRUPT', `stored ${what} weights hold ${blob.byteLength} bytes, the lengths say ${total * 4}`);
  }
  const out: Float32Array[] = [];
  let off = 0;
  for (const n of lengths as number[]) {
    // A fresh, aligned copy: the Buffer SQLite returns may start at any byte offset.
    const t = new Float32Array(n);
    const bytes = new Uint8Array(t.buffer);
    if (LITTLE_ENDIAN_HOST) {
      bytes.set(blob.subarray(off, off + 4 * n));
    } else {
      const dst = new DataView(t.buffer);
      for (let i = 0; i < n; i++) dst.setUint32(4 * i, blob.readUInt32LE(off + 4 * i), false);
    }
    out.push(t);
    off += 4 * n;
  }
  return out;
}
