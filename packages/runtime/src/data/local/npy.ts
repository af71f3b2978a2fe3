// Prepared arrays: x.npy holding [N, ...inputShape] samples and y.npy holding N integer labels. Only the
// headers and the labels are read when opening (labels are small: N integers); a batch reads just its
// rows by byte offset (rows adjacent on disk are fetched in one read), the way a memory map would,
// without a native mmap.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { NpyDataDeclaration } from './declaration.js';
import { DataError } from './errors.js';
import { npyGetter, npyPreamble, parseNpyHeader, NPY_PREAMBLE, type NpyHeader } from './npy-format.js';
import { ReportBuilder, summarizeSkips, type LoadReport } from './report.js';
import { BadSet, checkReadArgs, type ReadFailure, type SampleSource } from './source.js';

export interface NpyOptions {
  /** 'header' (default): trust the values; 'full': scan x once when opening and skip rows holding NaN or
   *  infinity (float dtypes only; reads the file sequentially in chunks, memory stays bounded). */
  verify?: 'header' | 'full';
  maxReported?: number;
}

/** One read() never asks the OS for more than this many bytes at once. */
const MAX_READ_BYTES = 4 * 2 ** 20;

async function readNpyHeader(file: string, role: 'x' | 'y'): Promise<NpyHeader & { fileSize: number }> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    throw new DataError('format', `cannot open ${role} array ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const fileSize = (await fh.stat()).size;
    const pre = new Uint8Array(Math.min(NPY_PREAMBLE, fileSize));
    await fh.read(pre, 0, pre.length, 0);
    const { version, headerStart, headerLen } = npyPreamble(pre);
    if (headerStart + headerLen > fileSize) throw new Error('truncated .npy header');
    const text = new Uint8Array(headerLen);
    await fh.read(text, 0, headerLen, headerStart);
    const h = parseNpyHeader(Buffer.from(text).toString(version[0] >= 3 ? 'utf8' : 'latin1'), version, headerStart + headerLen);
    const count = h.shape.reduce((a, b) => a * b, 1);
    const need = h.dataOffset + count * h.itemSize;
    if (fileSize < need) throw new Error(`truncated: its header promises ${count} values (${need} bytes) but the file has ${fileSize} bytes`);
    return { ...h, fileSize };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError('format', `${role} array ${file}: ${(e as Error).message}`);
  } finally {
    await fh.close();
  }
}

/** Drops size-1 axes: [28, 28] and [28, 28, 1] hold the same bytes in C order. */
const squeeze = (s: readonly number[]): number[] => s.filter((d) => d !== 1);
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

export class NpySource implements SampleSource {
  readonly sampleShape: readonly number[];
  readonly classNames: readonly string[];
  private readonly bad = new BadSet();
  private readonly ss: number;
  private readonly get: (dv: DataView, o: number) => number;
  private readonly rowBytes: number;

  constructor(
    readonly declaration: NpyDataDeclaration,
    readonly xPath: string,
    private readonly x: NpyHeader,
    /** File row of each sample; null when every row is a sample. */
    private readonly rows: Int32Array | null,
    readonly labels: Int32Array,
    private readonly builder: ReportBuilder,
  ) {
    this.sampleShape = declaration.inputShape.slice();
    this.classNames = declaration.classNames.slice();
    this.ss = this.sampleShape.reduce((a, b) => a * b, 1);
    this.get = npyGetter(x.dtype);
    this.rowBytes = this.ss * x.itemSize;
  }

  get size(): number {
    return this.labels.length;
  }

  get report(): LoadReport {
    return this.builder.report;
  }

  private fileRow(i: number): number {
    return this.rows ? this.rows[i]! : i;
  }

  describe(i: number): string {
    return `${this.xPath} row ${this.fileRow(i)}`;
  }

  isBad(i: number): boolean {
    return this.bad.has(i);
  }

  async read(indices: readonly number[], slots: readonly number[], out: Float32Array): Promise<ReadFailure[]> {
    checkReadArgs(this.size, this.ss, indices, slots, out);
    const failures: ReadFailure[] = [];
    if (indices.length === 0) return failures;
    // Sort by position in the file, then read runs of adjacent rows with one call each.
    const order = indices.map((_, k) => k).sort((a, b) => this.fileRow(indices[a]!) - this.fileRow(indices[b]!));
    const maxRun = Math.max(1, Math.floor(MAX_READ_BYTES / this.rowBytes));
    const { scale, offset } = this.declaration.preprocessing;
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.xPath, 'r');
      for (let a = 0; a < order.length; ) {
        let b = a + 1;
        const first = this.fileRow(indices[order[a]!]!);
        while (b < order.length && b - a < maxRun && this.fileRow(indices[order[b]!]!) === first + (b - a)) b++;
        const buf = new Uint8Array((b - a) * this.rowBytes);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.x.dataOffset + first * this.rowBytes);
        const dv = new DataView(buf.buffer);
        for (let k = a; k < b; k++) {
          const i = indices[order[k]!]!;
          const base = (k - a) * this.rowBytes;
          if (base + this.rowBytes > bytesRead) {
            this.fail(i, 'unreadable', 'file shorter than when it was opened', failures);
            continue;
          }
          const o = slots[order[k]!]! * this.ss;
          let finite = true;
          for (let j = 0; j < this.ss; j++) {
            const v = this.get(dv, base + j * this.x.itemSize) * scale + offset;
            if (!Number.isFinite(v)) finite = false;
            out[o + j] = v;
          }
          if (!finite) this.fail(i, 'non-numeric', 'row holds NaN or infinity', failures);
        }
        a = b;
      }
    } catch (e) {
      // The file vanished or an I/O error: every sample not yet failed in this read is unreadable.
      const msg = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      const failed = new Set(failures.map((f) => f.index));
      for (const i of indices) if (!failed.has(i)) this.fail(i, 'unreadable', msg, failures);
    } finally {
      await fh?.close();
    }
    return failures;
  }

  private fail(i: number, reason: ReadFailure['reason'], detail: string, failures: ReadFailure[]): void {
    if (!this.bad.has(i)) {
      this.bad.add(i);
      this.builder.demote(this.labels[i]!, this.describe(i), reason, detail);
    }
    failures.push({ index: i, reason, detail });
  }
}

/**
 * Opens x.npy / y.npy against an npy declaration. Refuses (DataError, before any training) an x whose
 * per-sample shape is not inputShape (size-1 axes aside), labels that are not integers in
 * [0, classNames.length), a y whose length differs from x's, and truncated or non-npy files.
 */
export async function openNpy(xPath: string, yPath: string, declaration: NpyDataDeclaration, opts: NpyOptions = {}): Promise<NpySource> {
  const x = await readNpyHeader(xPath, 'x');
  const y = await readNpyHeader(yPath, 'y');
  const declared = declaration.inputShape;
  const per = x.shape.slice(1);
  if (x.shape.length < 1 || fmt(squeeze(per)) !== fmt(squeeze(declared))) {
    throw new DataError(
      'shape-mismatch',
      `${xPath} holds samples of shape ${fmt(per)} (array ${fmt(x.shape)}) but the declaration's inputShape is ${fmt(declared)}`,
    );
  }
  const n = x.shape[0]!;
  if (!(y.shape.length === 1 || (y.shape.length === 2 && y.shape[1] === 1)) || y.shape[0] !== n) {
    throw new DataError('shape-mismatch', `${yPath} has shape ${fmt(y.shape)} but ${xPath} has ${n} samples: labels must have shape [${n}]`);
  }
  if (y.dtype === 'f4' || y.dtype === 'f8') throw new DataError('format', `${yPath} holds floats (${y.dtype}); labels must be integers (class indices)`);

  const builder = new ReportBuilder('npy', `${xPath} + ${path.basename(yPath)}`, declaration.classNames, opts.maxReported);
  const labels = new Int32Array(n);
  const k = declaration.classNames.length;
  const yBuf = await fsp.readFile(yPath);
  const ydv = new DataView(yBuf.buffer, yBuf.byteOffset, yBuf.byteLength);
  const getY = npyGetter(y.dtype);
  for (let i = 0; i < n; i++) {
    const v = getY(ydv, y.dataOffset + i * y.itemSize);
    if (!(v >= 0 && v < k)) {
      throw new DataError('unknown-label', `${yPath} row ${i} has label ${v}, outside the ${k} declared classes (0..${k - 1}: ${declaration.classNames.join(', ')})`);
    }
    labels[i] = v;
  }

  let rows: Int32Array | null = null;
  let kept = labels;
  const rowBytes = per.reduce((a, b) => a * b, 1) * x.itemSize;
  if (opts.verify === 'full' && (x.dtype === 'f4' || x.dtype === 'f8')) {
    const good: number[] = [];
    const get = npyGetter(x.dtype);
    const chunkRows = Math.max(1, Math.floor(MAX_READ_BYTES / rowBytes));
    const fh = await fsp.open(xPath, 'r');
    try {
      const buf = new Uint8Array(chunkRows * rowBytes);
      const dv = new DataView(buf.buffer);
      for (let r0 = 0; r0 < n; r0 += chunkRows) {
        const m = Math.min(chunkRows, n - r0);
        await fh.read(buf, 0, m * rowBytes, x.dataOffset + r0 * rowBytes);
        for (let r = 0; r < m; r++) {
          let ok = true;
          for (let o = r * rowBytes; o < (r + 1) * rowBytes; o += x.itemSize) {
            if (!Number.isFinite(get(dv, o))) {
              ok = false;
              break;
            }
          }
          if (ok) good.push(r0 + r);
          else builder.skip(`${xPath} row ${r0 + r}`, 'non-numeric', 'row holds NaN or infinity');
        }
      }
    } finally {
      await fh.close();
    }
    if (good.length < n) {
      rows = Int32Array.from(good);
      kept = Int32Array.from(good, (r) => labels[r]!);
    }
  }
  for (const l of kept) builder.addUsable(l);
  if (kept.length === 0) throw new DataError('empty', `no usable sample in ${xPath}: ${n === 0 ? 'the array is empty' : summarizeSkips(builder.report)}`, builder.report);
  return new NpySource(declaration, xPath, x, rows, kept, builder);
}
