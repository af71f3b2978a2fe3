// A tfjs Layers model served over http(s) (e.g. by a run's coordinator to its nodes), loaded with fetch:
// model.json, then its weight shards, which must be on the same origin under model.json's directory.
import type * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_MAX_WEIGHT_BYTES, MAX_MODEL_JSON_BYTES, assembleArtifacts, checkGroupBytes, checkTotalBytes, parseModelJson } from './manifest.js';

export interface HttpLoadOptions {
  /** Cap on the total bytes of the weight files (default 1 GiB). */
  maxWeightBytes?: number;
  /** fetch to use (default: the global fetch); e.g. one with a TLS agent or credentials. */
  fetch?: typeof fetch;
  /** Options passed to every request (headers such as authorization). */
  requestInit?: RequestInit;
}

export function isHttpUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

async function get(f: typeof fetch, url: URL, init: RequestInit | undefined, limit: number, what: string): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await f(url, init);
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new Error(`GET ${url}: ${(e as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  if (res.url && new URL(res.url).origin !== url.origin) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`GET ${url}: redirected to another origin (${new URL(res.url).origin}); the model and its weights must come from ${url.origin}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`GET ${url}: ${res.status} ${res.statusText} (${what})`);
  }
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`GET ${url}: ${declared} bytes is more than the ${limit} expected for ${what}`);
  }
  const buf = await res.arrayBuffer();
  if (buf.byteLength > limit) throw new Error(`GET ${url}: ${buf.byteLength} bytes is more than the ${limit} expected for ${what}`);
  return buf;
}

/** Resolves a shard path against model.json's URL; refuses other origins and paths outside its directory. */
function shardUrl(base: URL, p: string, where: string): URL {
  let u: URL;
  try {
    u = new URL(p, base);
  } catch {
    throw new Error(`${where}: weight path '${p}' is not a valid URL path`);
  }
  const dir = base.pathname.slice(0, base.pathname.lastIndexOf('/') + 1);
  if (u.origin !== base.origin || !u.pathname.startsWith(dir) || u.pathname === dir) {
    throw new Error(`${where}: weight path '${p}' leaves the model's directory ${base.origin}${dir}`);
  }
  return u;
}

/** Loads model.json at `url` and its weight shards as ModelArtifacts. */
export async function loadModelHttp(url: string, opts: HttpLoadOptions = {}): Promise<tf.io.ModelArtifacts> {
  const f = opts.fetch ?? globalThis.fetch;
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new Error(`'${url}' is not a valid URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`${url}: only http and https URLs can be fetched`);
  const where = base.href;
  const text = new TextDecoder().decode(await get(f, base, opts.requestInit, MAX_MODEL_JSON_BYTES, 'model.json'));
  const parsed = parseModelJson(text, where);
  checkTotalBytes(parsed, opts.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES, where);
  const shards: ArrayBuffer[][] = [];
  for (const [gi, g] of parsed.groups.entries()) {
    const urls = g.paths.map((p) => shardUrl(base, p, where));
    // a shard can hold at most its group's bytes: a larger answer is an error whatever else it holds
    const bufs = await Promise.all(urls.map((u) => get(f, u, opts.requestInit, g.bytes, `weights of group ${gi}`)));
    checkGroupBytes(parsed, gi, bufs.reduce((a, b) => a + b.byteLength, 0), where);
    shards.push(bufs);
  }
  return assembleArtifacts(parsed, shards, where);
}

/** tfjs IOHandler loading a model over http(s) with fetch. */
export function httpLoadHandler(url: string, opts: HttpLoadOptions = {}): tf.io.IOHandler {
  return { load: () => loadModelHttp(url, opts) };
}
