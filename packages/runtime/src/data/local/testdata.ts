// Test and bench data on disk in every layout the loaders read: the `mnist` package's digits as PNG (or
// JPEG) class folders and as .npy, and a seeded tabular CSV problem a small MLP learns. Each maker also
// returns the declaration that reads its output back, so a test or bench is one call away from training.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { Dataset } from '../dataset.js';
import { loadMnist } from '../mnist.js';
import { mixSeed, normal, seededRandom } from '../random.js';
import type { CsvDataDeclaration, ImageDataDeclaration, NpyDataDeclaration } from './declaration.js';
import { encodeNpy, type NpyDtype } from './npy-format.js';

/** [0,1] float to the 8-bit value an image file stores. */
export const toByte = (v: number): number => (v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255));

/** Encodes one HxWxC (C = 1 or 3) sample with values in [0,1] as PNG (lossless, 8-bit gray or RGB) or JPEG. */
export function encodeImage(sample: ArrayLike<number>, h: number, w: number, c: 1 | 3, format: 'png' | 'jpeg' = 'png', jpegQuality = 95): Buffer {
  if (format === 'png') {
    const png = new PNG({ width: w, height: h, colorType: c === 1 ? 0 : 2, inputColorType: c === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 });
    const data = Buffer.alloc(h * w * c);
    for (let i = 0; i < data.length; i++) data[i] = toByte(sample[i]!);
    png.data = data;
    return PNG.sync.write(png, { colorType: c === 1 ? 0 : 2, inputColorType: c === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 });
  }
  const rgba = Buffer.alloc(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) rgba[p * 4 + k] = toByte(sample[p * c + (c === 1 ? 0 : k)]!);
    rgba[p * 4 + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width: w, height: h }, jpegQuality).data;
}

export interface WrittenImage {
  /** Path of the file. */
  path: string;
  /** Row of the source Dataset it holds. */
  index: number;
  label: number;
}

/**
 * Writes samples of `data` ([H,W,1] or [H,W,3], values in [0,1]) as `<dir>/<className>/<index>.<ext>`,
 * at most `perClass` per class (default all), taking each class's samples in dataset order.
 */
export async function writeImageFolders(
  dir: string,
  data: Dataset,
  classNames: readonly string[],
  opts: { perClass?: number; format?: 'png' | 'jpeg'; jpegQuality?: number } = {},
): Promise<WrittenImage[]> {
  const [h, w, c] = data.sampleShape as [number, number, number];
  if (data.sampleShape.length !== 3 || (c !== 1 && c !== 3)) throw new Error(`writeImageFolders: sampleShape must be [H,W,1|3], got [${data.sampleShape.join(',')}]`);
  const format = opts.format ?? 'png';
  const ext = format === 'png' ? 'png' : 'jpg';
  const ss = h * w * c;
  const taken = new Array<number>(classNames.length).fill(0);
  for (const name of classNames) await fsp.mkdir(path.join(dir, name), { recursive: true });
  const written: WrittenImage[] = [];
  for (let i = 0; i < data.n; i++) {
    const label = data.y[i]!;
    if (opts.perClass !== undefined && taken[label]! >= opts.perClass) continue;
    taken[label]!++;
    const file = path.join(dir, classNames[label]!, `${String(i).padStart(5, '0')}.${ext}`);
    await fsp.writeFile(file, encodeImage(data.x.subarray(i * ss, (i + 1) * ss), h, w, c, format, opts.jpegQuality));
    written.push({ path: file, index: i, label });
  }
  return written;
}

export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** The declaration that reads MNIST digit folders back as [28,28,1] in [0,1]. */
export function mnistImageDeclaration(): ImageDataDeclaration {
  return {
    kind: 'image',
    inputShape: [28, 28, 1],
    classNames: MNIST_CLASS_NAMES.slice(),
    preprocessing: { height: 28, width: 28, channels: 1, resize: 'stretch', normalize: { kind: 'scale' } },
  };
}

/**
 * Writes the `mnist` package's digits (loadMnist's train or test split) as 8-bit grayscale PNG folders
 * 0..9 under `dir`. Returns the files (with the loadMnist row each holds) and the matching declaration.
 */
export async function writeMnistImageFolders(
  dir: string,
  opts: { perClass?: number; split?: 'train' | 'test'; format?: 'png' | 'jpeg' } = {},
): Promise<{ declaration: ImageDataDeclaration; files: WrittenImage[]; source: Dataset }> {
  const source = loadMnist()[opts.split ?? 'train'];
  const files = await writeImageFolders(dir, source, MNIST_CLASS_NAMES, opts);
  return { declaration: mnistImageDeclaration(), files, source };
}

/**
 * Writes `data` as `<dir>/x.npy` ([n, ...sampleShape]) and `<dir>/y.npy` ([n]). For integer x dtypes values
 * are stored as round(v * 255) (pixels); y defaults to int64, what NumPy gives integer labels on Linux.
 */
export async function writeNpyDataset(
  dir: string,
  data: Dataset,
  opts: { xDtype?: NpyDtype; yDtype?: NpyDtype } = {},
): Promise<{ x: string; y: string }> {
  const xDtype = opts.xDtype ?? 'f4';
  const isInt = xDtype !== 'f4' && xDtype !== 'f8';
  const values = isInt ? Float64Array.from(data.x, (v) => Math.round(v * 255)) : data.x;
  await fsp.mkdir(dir, { recursive: true });
  const x = path.join(dir, 'x.npy');
  const y = path.join(dir, 'y.npy');
  await fsp.writeFile(x, encodeNpy(values, [data.n, ...data.sampleShape], xDtype));
  await fsp.writeFile(y, encodeNpy(data.y, [data.n], opts.yDtype ?? 'i8'));
  return { x, y };
}

/** The declaration for writeNpyDataset's output: scale 1/255 for integer pixels, identity for floats. */
export function npyDeclaration(sampleShape: number[], classNames: string[], xDtype: NpyDtype = 'f4'): NpyDataDeclaration {
  const isInt = xDtype !== 'f4' && xDtype !== 'f8';
  return { kind: 'npy', inputShape: sampleShape.slice(), classNames: classNames.slice(), preprocessing: { scale: isInt ? 1 / 255 : 1, offset: 0 } };
}

/** Minimum distance between class centres: with unit noise, two classes overlap on ~4% of their samples. */
const MIN_CENTRE_DISTANCE = 3.5;

/** Seeded centres in [-3,3]^f, redrawn until every pair is MIN_CENTRE_DISTANCE apart (else spaced on axes). */
function separatedCentres(k: number, f: number, rand: () => number): number[][] {
  const dist = (a: number[], b: number[]) => Math.hypot(...a.map((v, i) => v - b[i]!));
  for (let attempt = 0; attempt < 1000; attempt++) {
    const cs = Array.from({ length: k }, () => Array.from({ length: f }, () => (rand() - 0.5) * 6));
    if (cs.every((a, i) => cs.every((b, j) => j <= i || dist(a, b) >= MIN_CENTRE_DISTANCE))) return cs;
  }
  // Too many classes for the box: class c sits on axis c mod f, further out each time round the axes.
  return Array.from({ length: k }, (_, c) => Array.from({ length: f }, (_, j) => (j === c % f ? MIN_CENTRE_DISTANCE * (1 + Math.floor(c / f)) : 0)));
}

export interface TabularCsv {
  declaration: CsvDataDeclaration;
  /** Feature values as written (row-major, n x features) and label indices, in file order. */
  x: Float64Array;
  y: Int32Array;
  n: number;
}

/**
 * Writes a seeded classification table: `features` Gaussian features (sigma 1) around a per-class centre
 * (centres at least 3.5 apart, so a small MLP reaches ~90% or more), plus an `id` column the model must not see,
 * with the label column between features to show columns are found by name. Header:
 * id,f0,f1,label,f2,...; labels are class names. The declaration standardises with the data's own
 * mean/std.
 */
export async function writeTabularCsv(
  file: string,
  opts: { n: number; seed: number; classNames?: string[]; features?: number },
): Promise<TabularCsv> {
  const classNames = opts.classNames ?? ['setosa', 'versicolor', 'virginica'];
  const f = opts.features ?? 4;
  if (f < 2) throw new Error('writeTabularCsv: at least 2 features');
  const rand = seededRandom(mixSeed(opts.seed, 0xc5f));
  const centres = separatedCentres(classNames.length, f, rand);
  const n = opts.n;
  const x = new Float64Array(n * f);
  const y = new Int32Array(n);
  const featureNames = Array.from({ length: f }, (_, j) => `f${j}`);
  const header = ['id', ...featureNames.slice(0, 2), 'label', ...featureNames.slice(2)];
  const lines = [header.join(',')];
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rand() * classNames.length);
    y[i] = c;
    for (let j = 0; j < f; j++) x[i * f + j] = centres[c]![j]! + normal(rand);
    const feats = Array.from(x.subarray(i * f, (i + 1) * f), String);
    lines.push([String(i), ...feats.slice(0, 2), classNames[c]!, ...feats.slice(2)].join(','));
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, lines.join('\n') + '\n');
  const mean = featureNames.map((_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i * f + j]!;
    return s / Math.max(1, n);
  });
  const std = featureNames.map((_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += (x[i * f + j]! - mean[j]!) ** 2;
    return Math.sqrt(s / Math.max(1, n)) || 1;
  });
  return {
    declaration: {
      kind: 'csv',
      inputShape: [f],
      classNames: classNames.slice(),
      preprocessing: { featureColumns: featureNames, labelColumn: 'label', scaling: { kind: 'standard', mean, std }, delimiter: ',' },
    },
    x,
    y,
    n,
  };
}
