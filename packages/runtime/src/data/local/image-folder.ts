// Image folders: <root>/<class name>/**/<file>.png|.jpg|.jpeg. Listing reads only each file's first and
// last bytes (format, completeness); pixels are decoded when a batch asks for them. The label of a file is
// the top-level folder it sits in, so sub-folders inside a class folder are fine.

import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import type { ImageDataDeclaration } from './declaration.js';
import { DataError } from './errors.js';
import { decodeImage, DEFAULT_MAX_PIXELS, sniffImage, SNIFF_HEAD, SNIFF_TAIL, type DecodeLimits } from './image-decode.js';
import { rasterToSample } from './image-transform.js';
import { ReportBuilder, summarizeSkips, type LoadReport, type SkipReason } from './report.js';
import { BadSet, checkReadArgs, mapLimit, type ReadFailure, type SampleSource } from './source.js';

export interface ImageFolderOptions {
  /** Ignore (and list in the report) sub-folders that are not declared classes instead of refusing. Default false. */
  ignoreUnknownFolders?: boolean;
  /** 'header' (default): check each file's format and end marker when listing; 'decode': fully decode each
   *  file once when listing (slower, memory still bounded) so no file can fail later during training. */
  verify?: 'header' | 'decode';
  /** How many skipped files the report lists individually (default 50; all are counted). */
  maxReported?: number;
  /** Files with more pixels are skipped as too large (default 40 million). */
  maxPixels?: number;
  /** Files bigger than this are skipped as too large (default 64 MiB). */
  maxFileBytes?: number;
  /** Files read at once while listing or decoding a batch (default 8). */
  concurrency?: number;
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const DEFAULT_MAX_FILE_BYTES = 64 * 2 ** 20;

export class ImageFolderSource implements SampleSource {
  readonly sampleShape: readonly number[];
  readonly classNames: readonly string[];
  private readonly bad = new BadSet();
  private readonly ss: number;

  constructor(
    readonly declaration: ImageDataDeclaration,
    readonly root: string,
    /** Paths relative to root, one per sample. */
    private readonly files: readonly string[],
    readonly labels: Int32Array,
    private readonly builder: ReportBuilder,
    private readonly limits: DecodeLimits & { maxFileBytes: number; concurrency: number },
  ) {
    this.sampleShape = declaration.inputShape.slice();
    this.classNames = declaration.classNames.slice();
    this.ss = this.sampleShape.reduce((a, b) => a * b, 1);
  }

  get size(): number {
    return this.files.length;
  }

  get report(): LoadReport {
    return this.builder.report;
  }

  describe(i: number): string {
    return path.join(this.root, this.files[i]!);
  }

  isBad(i: number): boolean {
    return this.bad.has(i);
  }

  async read(indices: readonly number[], slots: readonly number[], out: Float32Array): Promise<ReadFailure[]> {
    checkReadArgs(this.size, this.ss, indices, slots, out);
    const failures: ReadFailure[] = [];
    await mapLimit(indices, this.limits.concurrency, async (i, k) => {
      const where = this.describe(i);
      const r = await decodeFile(where, this.limits);
      if (!r.ok) {
        if (!this.bad.has(i)) {
          this.bad.add(i);
          this.builder.demote(this.labels[i]!, where, r.reason, r.detail);
        }
        failures.push({ index: i, reason: r.reason, detail: r.detail });
        return;
      }
      try {
        rasterToSample(r.raster, this.declaration.preprocessing, out, slots[k]! * this.ss);
      } catch (e) {
        this.bad.add(i);
        this.builder.demote(this.labels[i]!, where, 'decode-failed', (e as Error).message);
        failures.push({ index: i, reason: 'decode-failed', detail: (e as Error).message });
      }
    });
    return failures;
  }
}

type Failed = { ok: false; reason: ReadFailure['reason'] & SkipReason; detail: string };

async function decodeFile(file: string, limits: DecodeLimits & { maxFileBytes: number }): Promise<{ ok: true; raster: ReturnType<typeof decodeImage> } | Failed> {
  let bytes: Buffer;
  try {
    const st = await fsp.stat(file);
    if (st.size > limits.maxFileBytes) return { ok: false, reason: 'too-large', detail: `${st.size} bytes, over the ${limits.maxFileBytes}-byte limit` };
    bytes = await fsp.readFile(file);
  } catch (e) {
    return { ok: false, reason: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
  try {
    return { ok: true, raster: decodeImage(bytes, limits) };
  } catch (e) {
    return { ok: false, reason: 'decode-failed', detail: String((e as Error)?.message ?? e) };
  }
}

/** Reads a file's first SNIFF_HEAD and last SNIFF_TAIL bytes and checks them (no decoding). */
async function sniffFile(file: string, limits: DecodeLimits & { maxFileBytes: number }): Promise<{ ok: true } | Failed> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const size = (await fh.stat()).size;
    if (size > limits.maxFileBytes) return { ok: false, reason: 'too-large', detail: `${size} bytes, over the ${limits.maxFileBytes}-byte limit` };
    const head = new Uint8Array(Math.min(SNIFF_HEAD, size));
    await fh.read(head, 0, head.length, 0);
    const tailLen = Math.min(SNIFF_TAIL, size);
    const tail = new Uint8Array(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    const s = sniffImage(head, tail, limits);
    return s.ok ? { ok: true } : s;
  } catch (e) {
    return { ok: false, reason: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  } finally {
    await fh?.close();
  }
}

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Files under `dir` (relative to `root`), sorted, recursing into sub-folders; dot-entries are ignored. */
async function walk(root: string, dir: string, visited: Set<string>, files: string[]): Promise<void> {
  const real = await fsp.realpath(dir);
  if (visited.has(real)) return; // a symlink loop
  visited.add(real);
  const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort(byName);
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) isDir = (await fsp.stat(full).catch(() => null))?.isDirectory() ?? false;
    if (isDir) await walk(root, full, visited, files);
    else files.push(path.relative(root, full));
  }
}

/**
 * Lists an image folder against an image declaration. Refuses (DataError) a missing root, a sub-folder
 * that is not a declared class (unless ignoreUnknownFolders), and a folder with no usable image. Classes
 * without a folder are fine (a device may hold only some classes); the report shows their 0 count.
 */
export async function openImageFolder(root: string, declaration: ImageDataDeclaration, opts: ImageFolderOptions = {}): Promise<ImageFolderSource> {
  const limits = {
    maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    concurrency: opts.concurrency ?? 8,
  };
  const st = await fsp.stat(root).catch(() => null);
  if (!st) throw new DataError('format', `image data folder ${root} does not exist`);
  if (!st.isDirectory()) throw new DataError('format', `image data location ${root} is not a folder (expected one sub-folder per class)`);
  const classes = declaration.classNames;
  const builder = new ReportBuilder('image', root, classes, opts.maxReported);

  const top = (await fsp.readdir(root, { withFileTypes: true })).sort(byName);
  const unknown: string[] = [];
  const classDirs = new Map<string, string>();
  for (const e of top) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(root, e.name);
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) isDir = (await fsp.stat(full).catch(() => null))?.isDirectory() ?? false;
    if (isDir) {
      if (classes.includes(e.name)) classDirs.set(e.name, full);
      else unknown.push(e.name);
    } else if (IMAGE_EXT.has(path.extname(e.name).toLowerCase())) {
      builder.skip(full, 'outside-class-folder', 'image directly in the data folder; put it in its class folder');
    }
  }
  if (unknown.length > 0) {
    if (!opts.ignoreUnknownFolders) {
      const names = unknown.map((u) => `'${u}'`).join(', ');
      throw new DataError(
        'unknown-class',
        `${unknown.length === 1 ? 'folder' : 'folders'} ${names} in ${root} ${unknown.length === 1 ? 'is not a declared class' : 'are not declared classes'} ` +
          `(declared: ${classes.join(', ')}); rename or remove ${unknown.length === 1 ? 'it' : 'them'}, or allow ignoring unknown folders`,
      );
    }
    builder.report.ignoredFolders.push(...unknown);
  }

  const candidates: { rel: string; label: number }[] = [];
  for (let c = 0; c < classes.length; c++) {
    const dir = classDirs.get(classes[c]!);
    if (!dir) continue;
    const files: string[] = [];
    await walk(root, dir, new Set(), files);
    for (const rel of files) {
      if (IMAGE_EXT.has(path.extname(rel).toLowerCase())) candidates.push({ rel, label: c });
      else builder.skip(path.join(root, rel), 'unsupported-file', `extension '${path.extname(rel)}' is not .png, .jpg or .jpeg`);
    }
  }

  const verdicts: ({ ok: true } | Failed)[] = new Array(candidates.length);
  await mapLimit(candidates, limits.concurrency, async (cand, k) => {
    const file = path.join(root, cand.rel);
    let v = await sniffFile(file, limits);
    if (v.ok && opts.verify === 'decode') {
      const d = await decodeFile(file, limits);
      v = d.ok ? { ok: true } : d;
    }
    verdicts[k] = v;
  });
  const files: string[] = [];
  const labels: number[] = [];
  candidates.forEach((cand, k) => {
    const v = verdicts[k]!;
    if (v.ok) {
      files.push(cand.rel);
      labels.push(cand.label);
      builder.addUsable(cand.label);
    } else builder.skip(path.join(root, cand.rel), v.reason, v.detail);
  });
  if (files.length === 0) {
    const found = classDirs.size === 0 ? `no class folder found (expected sub-folders named ${classes.join(', ')})` : summarizeSkips(builder.report);
    throw new DataError('empty', `no usable image in ${root}: ${found}`, builder.report);
  }
  return new ImageFolderSource(declaration, root, files, Int32Array.from(labels), builder, limits);
}
