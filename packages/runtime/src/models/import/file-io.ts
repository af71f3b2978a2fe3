// tfjs Layers models on disk without tfjs-node: an IOHandler that loads model.json and its weight shards
// (every shard path must stay inside model.json's directory), one that saves them (model.save(handler)),
// and writing an exported checkpoint's two files.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_MAX_WEIGHT_BYTES, MAX_MODEL_JSON_BYTES, assembleArtifacts, checkGroupBytes, checkTotalBytes, parseModelJson } from './manifest.js';

export interface LoadLimits {
  /** Cap on the total bytes of the weight files (default 1 GiB). */
  maxWeightBytes?: number;
}

/** `file:///x/model.json` or a plain path, to a path. */
function toPath(source: string): string {
  return source.startsWith('file://') ? fileURLToPath(source) : source;
}

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** The model.json a path names: the file itself, or `model.json` inside a directory. */
export async function resolveModelJson(source: string): Promise<string> {
  const p = path.resolve(toPath(source));
  let st;
  try {
    st = await fs.stat(p);
  } catch (e) {
    throw new Error(code(e) === 'ENOENT' ? `no model at ${p} (no such file or directory)` : `cannot read ${p}: ${(e as Error).message}`);
  }
  if (!st.isDirectory()) return p;
  const json = path.join(p, 'model.json');
  try {
    await fs.access(json);
  } catch {
    throw new Error(`directory ${p} has no model.json`);
  }
  return json;
}

/** Resolves a manifest shard path against the model's directory; refuses paths that leave it (also through links). */
async function shardPath(dir: string, p: string, where: string): Promise<string> {
  if (path.isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) || p.includes('\0')) {
    throw new Error(`${where}: weight path '${p}' must be relative to the model's directory`);
  }
  const inside = (q: string) => {
    const rel = path.relative(dir, q);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  const lexical = path.resolve(dir, p);
  if (!inside(lexical)) throw new Error(`${where}: weight path '${p}' leaves the model's directory ${dir}`);
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch (e) {
    throw new Error(code(e) === 'ENOENT' ? `${where}: weight file '${p}' is missing (expected at ${lexical})` : `${where}: cannot read weight file '${p}': ${(e as Error).message}`);
  }
  if (!inside(real)) throw new Error(`${where}: weight path '${p}' leaves the model's directory ${dir} (it links to ${real})`);
  return real;
}

const asArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** Loads model.json (a path to it, to its directory, or a file:// URL) and its weight shards as ModelArtifacts. */
export async function loadModelFiles(source: string, limits: LoadLimits = {}): Promise<tf.io.ModelArtifacts> {
  const jsonPath = await resolveModelJson(source);
  const st = await fs.stat(jsonPath);
  if (!st.isFile()) throw new Error(`${jsonPath} is not a file`);
  if (st.size > MAX_MODEL_JSON_BYTES) throw new Error(`${jsonPath}: ${st.size} bytes is too large for a model.json (limit ${MAX_MODEL_JSON_BYTES})`);
  const parsed = parseModelJson(await fs.readFile(jsonPath, 'utf8'), jsonPath);
  checkTotalBytes(parsed, limits.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES, jsonPath);
  const dir = await fs.realpath(path.dirname(jsonPath));
  const shards: ArrayBuffer[][] = [];
  for (const g of parsed.groups) {
    const files = await Promise.all(g.paths.map((p) => shardPath(dir, p, jsonPath)));
    // sizes before contents: a wrong manifest is reported without reading large files
    const sizes = await Promise.all(files.map(async (f) => (await fs.stat(f)).size));
    checkGroupBytes(parsed, shards.length, sizes.reduce((a, b) => a + b, 0), jsonPath);
    shards.push(await Promise.all(files.map(async (f) => asArrayBuffer(await fs.readFile(f)))));
  }
  return assembleArtifacts(parsed, shards, jsonPath);
}

/** tfjs IOHandler loading a model from disk: `tf.loadLayersModel(fileLoadHandler('dir/model.json'))`. */
export function fileLoadHandler(source: string, limits: LoadLimits = {}): tf.io.IOHandler {
  return { load: () => loadModelFiles(source, limits) };
}

export interface SaveOptions {
  /** Split the weights into shards of at most this many bytes (group1-shard1ofN.bin ...); default: one weights.bin. */
  shardBytes?: number;
}

/**
 * tfjs IOHandler writing model.json and the weight file(s) into `dir` (created if needed), like tfjs-node's
 * file:// handler: `await model.save(fileSaveHandler(dir))`.
 */
export function fileSaveHandler(dir: string, opts: SaveOptions = {}): tf.io.IOHandler {
  return {
    save: async (a: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (a.modelTopology instanceof ArrayBuffer) throw new Error('fileSaveHandler: binary model topologies are not supported');
      const data = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(a.weightData);
      const bytes = new Uint8Array(data);
      const shardBytes = opts.shardBytes ?? Math.max(1, bytes.byteLength);
      if (!Number.isInteger(shardBytes) || shardBytes < 1) throw new Error(`fileSaveHandler: bad shardBytes ${opts.shardBytes}`);
      const n = Math.max(1, Math.ceil(bytes.byteLength / shardBytes));
      const paths = n === 1 && opts.shardBytes === undefined ? ['weights.bin'] : Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
      await fs.mkdir(dir, { recursive: true });
      for (let i = 0; i < n; i++) await fs.writeFile(path.join(dir, paths[i]!), bytes.subarray(i * shardBytes, (i + 1) * shardBytes));
      const json = {
        format: a.format ?? 'layers-model',
        generatedBy: a.generatedBy ?? `TensorFlow.js tfjs-layers`,
        convertedBy: a.convertedBy ?? null,
        modelTopology: a.modelTopology,
        ...(a.trainingConfig ? { trainingConfig: a.trainingConfig } : {}),
        weightsManifest: [{ paths, weights: a.weightSpecs ?? [] }],
      };
      const text = JSON.stringify(json);
      await fs.writeFile(path.join(dir, 'model.json'), text);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: Buffer.byteLength(text),
          weightSpecsBytes: Buffer.byteLength(JSON.stringify(a.weightSpecs ?? [])),
          weightDataBytes: bytes.byteLength,
        },
      };
    },
  };
}

/** Writes an exported checkpoint ({modelJson, weightsBin}: exportCheckpoint / exportImportedModel) as dir/model.json + dir/weights.bin. */
export async function writeCheckpoint(dir: string, ck: { modelJson: string; weightsBin: Uint8Array }): Promise<{ modelJson: string; weightsBin: string }> {
  await fs.mkdir(dir, { recursive: true });
  const files = { modelJson: path.join(dir, 'model.json'), weightsBin: path.join(dir, 'weights.bin') };
  await fs.writeFile(files.weightsBin, ck.weightsBin);
  await fs.writeFile(files.modelJson, ck.modelJson);
  return files;
}
