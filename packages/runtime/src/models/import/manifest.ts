// model.json of a tfjs Layers model: parsing, shape checks with readable errors, and the byte size each
// weights-manifest group must have. Shared by the file and http loaders.
import * as tf from '@tensorflow/tfjs-core';
import type { JsonObject } from './spec.js';

/** Largest model.json read (the topology is text; weights live in the shard files). */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
/** Default cap on the total size of a model's weight files. */
export const DEFAULT_MAX_WEIGHT_BYTES = 1024 * 1024 * 1024;

export interface ManifestGroup {
  /** Shard file paths, relative to model.json, in the order their bytes concatenate. */
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
  /** Bytes the group's shards must hold together. */
  bytes: number;
}

export interface ParsedModelJson {
  modelTopology: JsonObject;
  groups: ManifestGroup[];
  format: string | null;
  generatedBy: string | null;
  convertedBy: string | null;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Bytes one manifest entry takes in its shard files. */
export function entryBytes(e: tf.io.WeightsManifestEntry): number {
  const size = e.shape.reduce((a, b) => a * b, 1);
  return size * (e.quantization ? QUANT_BYTES[e.quantization.dtype]! : BYTES[e.dtype]!);
}

/** Parses and checks model.json text; `where` names it in errors (path or URL). */
export function parseModelJson(text: string, where: string): ParsedModelJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new Error(`${where}: expected a JSON object (a tfjs model.json)`);
  const format = optString(json['format']);
  if (format !== null && format !== 'layers-model') {
    throw new Error(
      `${where}: format '${format}' is not a tfjs Layers model; only 'layers-model' (tf model.save, or the tensorflowjs Keras converter) can be imported`,
    );
  }
  const topo = json['modelTopology'];
  if (!isObject(topo)) throw new Error(`${where}: modelTopology is missing or not an object`);
  if (Array.isArray(topo['node'])) throw new Error(`${where}: this is a tfjs graph model (a TensorFlow graph); only Layers models can be imported`);
  const inner = isObject(topo['model_config']) ? topo['model_config'] : topo;
  if (typeof inner['class_name'] !== 'string' || (!isObject(inner['config']) && !Array.isArray(inner['config']))) {
    throw new Error(`${where}: modelTopology has no class_name/config (expected a Keras model: Sequential or Model)`);
  }
  const manifest = json['weightsManifest'] ?? [];
  if (!Array.isArray(manifest)) throw new Error(`${where}: weightsManifest must be an array of {paths, weights} groups`);
  const seen = new Set<string>();
  const groups = manifest.map((g, gi): ManifestGroup => {
    const at = `${where}: weightsManifest[${gi}]`;
    if (!isObject(g)) throw new Error(`${at} is not an object`);
    const paths = g['paths'];
    const weights = g['weights'];
    if (!Array.isArray(paths) || paths.length === 0 || paths.some((p) => typeof p !== 'string' || p.length === 0)) {
      throw new Error(`${at}.paths must be a non-empty array of file names`);
    }
    if (!Array.isArray(weights)) throw new Error(`${at}.weights must be an array`);
    const entries = weights.map((w, wi) => checkEntry(w, `${at}.weights[${wi}]`));
    for (const e of entries) {
      if (seen.has(e.name)) throw new Error(`${at}: weight '${e.name}' is listed twice`);
      seen.add(e.name);
    }
    return { paths: paths as string[], weights: entries, bytes: entries.reduce((a, e) => a + entryBytes(e), 0) };
  });
  return { modelTopology: topo, groups, format, generatedBy: optString(json['generatedBy']), convertedBy: optString(json['convertedBy']) };
}

function checkEntry(w: unknown, at: string): tf.io.WeightsManifestEntry {
  if (!isObject(w)) throw new Error(`${at} is not an object`);
  const { name, shape, dtype, quantization } = w;
  if (typeof name !== 'string' || !name) throw new Error(`${at}.name must be a non-empty string`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
    throw new Error(`${at} (${name}): shape must be an array of integers >= 0`);
  }
  if (typeof dtype !== 'string' || !(dtype in BYTES)) {
    throw new Error(`${at} (${name}): dtype '${String(dtype)}' is not supported (float32, int32, bool)`);
  }
  const e: tf.io.WeightsManifestEntry = { name, shape: shape as number[], dtype: dtype as 'float32' | 'int32' | 'bool' };
  if (quantization !== undefined && quantization !== null) {
    if (!isObject(quantization) || typeof quantization['dtype'] !== 'string' || !(quantization['dtype'] in QUANT_BYTES)) {
      throw new Error(`${at} (${name}): quantization dtype must be uint8, uint16 or float16`);
    }
    e.quantization = quantization as tf.io.WeightsManifestEntry['quantization'];
  }
  return e;
}

/** Checks the model's total weight bytes against a cap before anything is read. */
export function checkTotalBytes(parsed: ParsedModelJson, maxBytes: number, where: string): void {
  const total = parsed.groups.reduce((a, g) => a + g.bytes, 0);
  if (total > maxBytes) throw new Error(`${where}: the weights take ${total} bytes, more than the limit of ${maxBytes}`);
}

/** Throws unless group gi's shard files hold `got` = exactly the bytes its weights take. */
export function checkGroupBytes(parsed: ParsedModelJson, gi: number, got: number, where: string): void {
  const g = parsed.groups[gi]!;
  if (got === g.bytes) return;
  const names = g.weights.map((w) => w.name);
  const list = names.length > 4 ? `${names.slice(0, 4).join(', ')}, ...` : names.join(', ');
  throw new Error(
    `${where}: the weight files of group ${gi} (${g.paths.join(', ')}) hold ${got} bytes, but its ${names.length} weights (${list}) take ${g.bytes}`,
  );
}

/**
 * The ModelArtifacts tf.loadLayersModel takes, from the parsed model.json and each group's shard contents
 * (in manifest order). Checks every group holds exactly the bytes its weights describe.
 */
export function assembleArtifacts(parsed: ParsedModelJson, shards: ArrayBuffer[][], where: string): tf.io.ModelArtifacts {
  parsed.groups.forEach((_, gi) => checkGroupBytes(parsed, gi, shards[gi]!.reduce((a, b) => a + b.byteLength, 0), where));
  const all = shards.flat();
  return {
    modelTopology: parsed.modelTopology,
    weightSpecs: parsed.groups.flatMap((g) => g.weights),
    weightData: tf.io.CompositeArrayBuffer.join(all),
    format: parsed.format ?? 'layers-model',
    ...(parsed.generatedBy !== null ? { generatedBy: parsed.generatedBy } : {}),
    convertedBy: parsed.convertedBy,
  };
}
