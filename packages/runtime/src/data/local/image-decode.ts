// Pure-JS PNG and JPEG decoding (pngjs, jpeg-js: no native build, so it runs on any board with Node 20),
// plus a cheap header/trailer check used when listing a folder: it catches text files named .jpg and
// truncated files without decoding anything, so listing 100,000 images stays fast and memory-flat.

import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';

/** A decoded image as 8-bit RGBA, row-major. */
export interface RasterRGBA {
  width: number;
  height: number;
  data: Uint8Array;
}

export type ImageFormat = 'png' | 'jpeg';

export interface DecodeLimits {
  /** Refuse images with more pixels than this (default 40 million): a decoded RGBA raster costs 4 bytes/pixel. */
  maxPixels: number;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// The IEND chunk every complete PNG ends with: length 0, "IEND", CRC.
const PNG_IEND = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/** How many bytes of the file's start and end `sniffImage` wants. */
export const SNIFF_HEAD = 32;
export const SNIFF_TAIL = 1024;

export type SniffResult =
  | { ok: true; format: ImageFormat }
  | { ok: false; reason: 'not-an-image' | 'truncated' | 'too-large'; detail: string };

const hex = (b: Uint8Array, n: number): string => Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ');

/**
 * Identifies the format from the first bytes (never from the extension) and checks the file is complete:
 * a PNG must end with IEND, a JPEG must have its EOI marker (FF D9) in its last bytes (cameras may pad
 * after it). PNG dimensions come from IHDR and are checked against the pixel limit.
 */
export function sniffImage(head: Uint8Array, tail: Uint8Array, limits: DecodeLimits): SniffResult {
  if (head.length >= 8 && PNG_SIG.every((b, i) => head[i] === b)) {
    if (head.length < 24) return { ok: false, reason: 'truncated', detail: 'PNG shorter than its IHDR header' };
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const w = dv.getUint32(16);
    const h = dv.getUint32(20);
    if (w === 0 || h === 0) return { ok: false, reason: 'not-an-image', detail: `PNG header gives ${w}x${h} pixels` };
    if (w * h > limits.maxPixels) return { ok: false, reason: 'too-large', detail: `PNG is ${w}x${h}, over the ${limits.maxPixels}-pixel limit` };
    const t = tail.subarray(Math.max(0, tail.length - PNG_IEND.length));
    if (t.length < PNG_IEND.length || !PNG_IEND.every((b, i) => t[i] === b)) {
      return { ok: false, reason: 'truncated', detail: 'PNG does not end with an IEND chunk' };
    }
    return { ok: true, format: 'png' };
  }
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    for (let i = tail.length - 2; i >= 0; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return { ok: true, format: 'jpeg' };
    return { ok: false, reason: 'truncated', detail: 'JPEG has no end-of-image marker (FF D9)' };
  }
  if (head.length === 0) return { ok: false, reason: 'not-an-image', detail: 'empty file' };
  return { ok: false, reason: 'not-an-image', detail: `neither PNG nor JPEG (starts with ${hex(head, 8)})` };
}

/** Decodes a PNG or JPEG (format from its content) to 8-bit RGBA; throws a short message on failure. */
export function decodeImage(bytes: Uint8Array, limits: DecodeLimits): RasterRGBA {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 8 && PNG_SIG.every((b, i) => buf[i] === b)) {
    const w = buf.length >= 24 ? buf.readUInt32BE(16) : 0;
    const h = buf.length >= 24 ? buf.readUInt32BE(20) : 0;
    if (w * h > limits.maxPixels) throw new Error(`PNG is ${w}x${h}, over the ${limits.maxPixels}-pixel limit`);
    // pngjs normalises every PNG variant (palette, gray, 16-bit, interlaced, tRNS) to 8-bit RGBA.
    const png = PNG.sync.read(buf);
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
  }
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8) {
    const img = jpeg.decode(buf, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: limits.maxPixels / 1e6,
      // jpeg-js's own guard against decompression bombs; the raster is 4 bytes per pixel plus its working buffers.
      maxMemoryUsageInMB: Math.max(64, Math.ceil((limits.maxPixels * 8) / 2 ** 20)),
    });
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new Error(`neither PNG nor JPEG (starts with ${hex(buf, 8)})`);
}
