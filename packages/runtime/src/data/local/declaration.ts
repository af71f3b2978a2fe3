// The run's data declaration: what every device's local data must turn into, so that all devices feed the
// same model the same kind of tensor. It travels with the run (JSON from the coordinator), so it is
// validated from `unknown` and every problem is reported at once, with the field path, before any device
// opens a file.

import { DataError } from './errors.js';

export type DataKind = 'image' | 'csv' | 'npy';

/** Pixel normalisation after decoding 8-bit channels. mean/std are in [0,1] units (applied after /255). */
export type ImageNormalization = { kind: 'scale' } | { kind: 'mean-std'; mean: number[]; std: number[] };

export interface ImagePreprocessing {
  /** Target height and width in pixels; channels 1 = grayscale (luma), 3 = RGB. Equal to inputShape. */
  height: number;
  width: number;
  channels: 1 | 3;
  /** stretch: resize the whole image to height x width (aspect ratio not kept);
   *  center-crop: crop the largest centred region of the target aspect ratio, then resize it. */
  resize: 'stretch' | 'center-crop';
  normalize: ImageNormalization;
}

/** Per-feature scaling, one entry per feature column: minmax gives (v-min)/(max-min), standard (v-mean)/std. */
export type CsvScaling =
  | { kind: 'none' }
  | { kind: 'minmax'; min: number[]; max: number[] }
  | { kind: 'standard'; mean: number[]; std: number[] };

export interface CsvPreprocessing {
  /** Header names of the feature columns, in the order of the model's input vector. */
  featureColumns: string[];
  /** Header name of the label column; its values are class names. */
  labelColumn: string;
  scaling: CsvScaling;
  /** Field delimiter (default ','). */
  delimiter: string;
}

/** npy values become value * scale + offset (e.g. scale 1/255 for uint8 pixels). */
export interface NpyPreprocessing {
  scale: number;
  offset: number;
}

interface DeclarationBase {
  /** Shape of one sample as the model takes it: [H,W,C] for images, [features] for CSV, any for npy. */
  inputShape: number[];
  /** Ordered class names; a sample's label index is the position of its class here. */
  classNames: string[];
}

export type ImageDataDeclaration = DeclarationBase & { kind: 'image'; preprocessing: ImagePreprocessing };
export type CsvDataDeclaration = DeclarationBase & { kind: 'csv'; preprocessing: CsvPreprocessing };
export type NpyDataDeclaration = DeclarationBase & { kind: 'npy'; preprocessing: NpyPreprocessing };
export type DataDeclaration = ImageDataDeclaration | CsvDataDeclaration | NpyDataDeclaration;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
};

/** Collects problems as "path: what is wrong (got X)" so the user fixes them all in one go. */
class Problems {
  readonly list: string[] = [];
  add(path: string, what: string, got?: unknown): void {
    this.list.push(arguments.length > 2 ? `${path}: ${what} (got ${show(got)})` : `${path}: ${what}`);
  }
  unknownKeys(o: Obj, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.add(path ? `${path}.${k}` : k, `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }
  posInt(v: unknown, path: string): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
    this.add(path, 'must be a positive integer', v);
    return undefined;
  }
  finite(v: unknown, path: string): number | undefined {
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    this.add(path, 'must be a finite number', v);
    return undefined;
  }
  /** A finite-number array of exactly `len` entries (len undefined: any non-zero length). */
  numbers(v: unknown, path: string, len: number | undefined, unit: 'channel' | 'feature column', positive = false): number[] | undefined {
    if (!Array.isArray(v)) {
      this.add(path, `must be an array of ${len ?? 'one or more'} numbers`, v);
      return undefined;
    }
    if (len !== undefined && v.length !== len) {
      this.add(path, `must have ${len} entries, one per ${unit}, has ${v.length}`);
      return undefined;
    }
    let ok = true;
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x) || (positive && !(x > 0))) {
        this.add(`${path}[${i}]`, positive ? 'must be a positive finite number' : 'must be a finite number', x);
        ok = false;
      }
    });
    return ok ? (v as number[]).slice() : undefined;
  }
}

/** Forbidden in folder names on common filesystems, so such a class name could never match a folder. */
const BAD_FOLDER_CHARS = /[/\\\0:*?"<>|]/;

/**
 * Checks a declaration received as JSON (or built in code) and returns it complete, with defaults filled:
 * image preprocessing height/width/channels default to inputShape, resize to 'stretch', normalize to
 * 'scale'; CSV scaling to 'none' and delimiter to ','; npy preprocessing to scale 1, offset 0.
 * Throws DataError('declaration') listing every problem found.
 */
export function validateDataDeclaration(input: unknown): DataDeclaration {
  const p = new Problems();
  if (!isObj(input)) {
    throw new DataError('declaration', `data declaration must be an object, got ${show(input)}`);
  }
  p.unknownKeys(input, '', ['kind', 'inputShape', 'classNames', 'preprocessing']);
  const kind = input.kind;
  if (kind !== 'image' && kind !== 'csv' && kind !== 'npy') p.add('kind', "must be 'image', 'csv' or 'npy'", kind);

  let inputShape: number[] | undefined;
  if (!Array.isArray(input.inputShape) || input.inputShape.length === 0) {
    p.add('inputShape', 'must be a non-empty array of positive integers (one sample, no batch axis)', input.inputShape);
  } else {
    const dims = input.inputShape.map((d, i) => p.posInt(d, `inputShape[${i}]`));
    if (dims.every((d) => d !== undefined)) inputShape = dims as number[];
  }

  let classNames: string[] | undefined;
  if (!Array.isArray(input.classNames) || input.classNames.length < 2) {
    p.add('classNames', 'must be an array of at least 2 class names', input.classNames);
  } else {
    const seen = new Map<string, number>();
    let ok = true;
    input.classNames.forEach((c, i) => {
      if (typeof c !== 'string' || c.trim() === '') {
        p.add(`classNames[${i}]`, 'must be a non-empty string', c);
        ok = false;
      } else if (c !== c.trim()) {
        p.add(`classNames[${i}]`, 'must not start or end with whitespace', c);
        ok = false;
      } else if (seen.has(c)) {
        p.add(`classNames[${i}]`, `duplicates classNames[${seen.get(c)}]`, c);
        ok = false;
      } else {
        seen.set(c, i);
        if (kind === 'image' && (BAD_FOLDER_CHARS.test(c) || c.startsWith('.'))) {
          p.add(`classNames[${i}]`, 'is a class folder name for images: no leading dot and none of / \\ : * ? " < > |', c);
          ok = false;
        }
      }
    });
    if (ok) classNames = (input.classNames as string[]).slice();
  }

  let decl: DataDeclaration | undefined;
  const pre = input.preprocessing;
  if (kind === 'image') {
    const pp = imagePreprocessing(pre, inputShape, p);
    if (pp && inputShape && classNames) decl = { kind, inputShape, classNames, preprocessing: pp };
  } else if (kind === 'csv') {
    const pp = csvPreprocessing(pre, inputShape, p);
    if (pp && inputShape && classNames) decl = { kind, inputShape, classNames, preprocessing: pp };
  } else if (kind === 'npy') {
    const pp = npyPreprocessing(pre, p);
    if (pp && inputShape && classNames) decl = { kind, inputShape, classNames, preprocessing: pp };
  }
  if (p.list.length > 0 || !decl) {
    throw new DataError('declaration', `data declaration is invalid:\n  - ${p.list.join('\n  - ')}`);
  }
  return decl;
}

function imagePreprocessing(v: unknown, shape: number[] | undefined, p: Problems): ImagePreprocessing | undefined {
  if (shape && shape.length !== 3) p.add('inputShape', 'must be [height, width, channels] for images', shape);
  if (shape && shape.length === 3 && shape[2] !== 1 && shape[2] !== 3) p.add('inputShape[2]', 'channels must be 1 (grayscale) or 3 (RGB)', shape[2]);
  const o: Obj = v === undefined ? {} : isObj(v) ? v : (p.add('preprocessing', 'must be an object', v), {});
  p.unknownKeys(o, 'preprocessing', ['height', 'width', 'channels', 'resize', 'normalize']);
  const s3 = shape && shape.length === 3 ? shape : undefined;
  const height = o.height === undefined ? s3?.[0] : p.posInt(o.height, 'preprocessing.height');
  const width = o.width === undefined ? s3?.[1] : p.posInt(o.width, 'preprocessing.width');
  const shapeChannels = s3?.[2] === 1 || s3?.[2] === 3 ? s3[2] : undefined;
  let channels: unknown = o.channels === undefined ? shapeChannels : o.channels;
  if (o.channels !== undefined && channels !== 1 && channels !== 3) {
    p.add('preprocessing.channels', 'must be 1 (grayscale) or 3 (RGB)', channels);
    channels = undefined;
  }
  if (s3 && height !== undefined && width !== undefined && channels !== undefined) {
    if (s3[0] !== height || s3[1] !== width || s3[2] !== channels) {
      p.add('preprocessing', `height/width/channels [${height}, ${width}, ${String(channels)}] differ from inputShape [${s3.join(', ')}]`);
    }
  }
  const resize = o.resize ?? 'stretch';
  if (resize !== 'stretch' && resize !== 'center-crop') p.add('preprocessing.resize', "must be 'stretch' or 'center-crop'", resize);
  let normalize: ImageNormalization | undefined = { kind: 'scale' };
  if (o.normalize !== undefined) {
    const n = o.normalize;
    if (!isObj(n) || (n.kind !== 'scale' && n.kind !== 'mean-std')) {
      p.add('preprocessing.normalize', "must be { kind: 'scale' } or { kind: 'mean-std', mean: [...], std: [...] }", n);
      normalize = undefined;
    } else if (n.kind === 'scale') {
      p.unknownKeys(n, 'preprocessing.normalize', ['kind']);
    } else {
      p.unknownKeys(n, 'preprocessing.normalize', ['kind', 'mean', 'std']);
      const ch = typeof channels === 'number' ? channels : undefined;
      const mean = p.numbers(n.mean, 'preprocessing.normalize.mean', ch, 'channel');
      const std = p.numbers(n.std, 'preprocessing.normalize.std', ch, 'channel', true);
      normalize = mean && std ? { kind: 'mean-std', mean, std } : undefined;
    }
  }
  if (height === undefined || width === undefined || (channels !== 1 && channels !== 3) || !normalize) return undefined;
  if (resize !== 'stretch' && resize !== 'center-crop') return undefined;
  return { height, width, channels, resize, normalize };
}

function csvPreprocessing(v: unknown, shape: number[] | undefined, p: Problems): CsvPreprocessing | undefined {
  if (!isObj(v)) {
    p.add('preprocessing', 'must be an object with featureColumns and labelColumn for CSV data', v);
    return undefined;
  }
  p.unknownKeys(v, 'preprocessing', ['featureColumns', 'labelColumn', 'scaling', 'delimiter']);
  let features: string[] | undefined;
  if (!Array.isArray(v.featureColumns) || v.featureColumns.length === 0) {
    p.add('preprocessing.featureColumns', 'must be a non-empty array of header names', v.featureColumns);
  } else {
    const seen = new Set<string>();
    let ok = true;
    v.featureColumns.forEach((c, i) => {
      if (typeof c !== 'string' || c === '') {
        p.add(`preprocessing.featureColumns[${i}]`, 'must be a non-empty string', c);
        ok = false;
      } else if (seen.has(c)) {
        p.add(`preprocessing.featureColumns[${i}]`, 'is listed twice', c);
        ok = false;
      } else seen.add(c);
    });
    if (ok) features = (v.featureColumns as string[]).slice();
  }
  const label = v.labelColumn;
  if (typeof label !== 'string' || label === '') p.add('preprocessing.labelColumn', 'must be a non-empty string', label);
  else if (features?.includes(label)) p.add('preprocessing.labelColumn', 'is also a feature column', label);
  if (shape && features && (shape.length !== 1 || shape[0] !== features.length)) {
    p.add('inputShape', `must be [${features.length}] (one entry per feature column) for CSV data`, shape);
  }
  const delimiter = v.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    p.add('preprocessing.delimiter', 'must be a single character other than a quote or newline', delimiter);
  }
  let scaling: CsvScaling | undefined = { kind: 'none' };
  const sc = v.scaling;
  const n = features?.length;
  if (sc !== undefined) {
    if (!isObj(sc) || (sc.kind !== 'none' && sc.kind !== 'minmax' && sc.kind !== 'standard')) {
      p.add('preprocessing.scaling', "must be { kind: 'none' }, { kind: 'minmax', min, max } or { kind: 'standard', mean, std }", sc);
      scaling = undefined;
    } else if (sc.kind === 'none') {
      p.unknownKeys(sc, 'preprocessing.scaling', ['kind']);
    } else if (sc.kind === 'minmax') {
      p.unknownKeys(sc, 'preprocessing.scaling', ['kind', 'min', 'max']);
      const min = p.numbers(sc.min, 'preprocessing.scaling.min', n, 'feature column');
      const max = p.numbers(sc.max, 'preprocessing.scaling.max', n, 'feature column');
      scaling = undefined;
      if (min && max) {
        const bad = min.findIndex((m, i) => !(max[i]! > m));
        if (bad >= 0) p.add(`preprocessing.scaling.max[${bad}]`, `must be greater than min[${bad}] = ${min[bad]}`, max[bad]);
        else scaling = { kind: 'minmax', min, max };
      }
    } else {
      p.unknownKeys(sc, 'preprocessing.scaling', ['kind', 'mean', 'std']);
      const mean = p.numbers(sc.mean, 'preprocessing.scaling.mean', n, 'feature column');
      const std = p.numbers(sc.std, 'preprocessing.scaling.std', n, 'feature column', true);
      scaling = mean && std ? { kind: 'standard', mean, std } : undefined;
    }
  }
  if (!features || typeof label !== 'string' || !scaling || typeof delimiter !== 'string') return undefined;
  return { featureColumns: features, labelColumn: label, scaling, delimiter };
}

function npyPreprocessing(v: unknown, p: Problems): NpyPreprocessing | undefined {
  if (v === undefined) return { scale: 1, offset: 0 };
  if (!isObj(v)) {
    p.add('preprocessing', 'must be an object { scale?, offset? } for npy data', v);
    return undefined;
  }
  p.unknownKeys(v, 'preprocessing', ['scale', 'offset']);
  const scale = v.scale === undefined ? 1 : p.finite(v.scale, 'preprocessing.scale');
  const offset = v.offset === undefined ? 0 : p.finite(v.offset, 'preprocessing.offset');
  return scale === undefined || offset === undefined ? undefined : { scale, offset };
}

/** Number of float32 values in one sample. */
export function declaredSampleSize(d: DataDeclaration): number {
  return d.inputShape.reduce((a, b) => a * b, 1);
}
