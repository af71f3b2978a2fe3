/**
 * tfjs backend selection for every hsfl role.
 *
 * Order for 'auto': @tensorflow/tfjs-node (optional peer dependency, used only
 * if it loads) -> tfjs-backend-wasm with the project's training kernels ->
 * tfjs-backend-cpu with the project's fast kernels. See docs/runtime.md.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  PROJECT_KERNELS,
  STOCK_CPU_BACKEND,
  installedKernels,
  registerProjectKernels,
  registerStockCpuBackend,
  unregisterProjectKernels,
  type KernelBackendName,
} from '../kernels/index.js';

export {
  PROJECT_KERNELS,
  STOCK_CPU_BACKEND,
  registerProjectKernels,
  registerStockCpuBackend,
  unregisterProjectKernels,
  type KernelBackendName,
};

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;

export interface BackendInfo {
  /** The tfjs backend now active. */
  name: BackendName;
  /** wasm only: whether the SIMD build was loaded. */
  simd?: boolean;
  /** wasm only: worker threads used by XNNPACK (1 under Node). */
  threads?: number;
  /** Names of the project kernels registered for this backend. */
  projectKernels: string[];
  /** Why this backend was chosen, including what failed before it. */
  reason?: string;
  /** tfjs-core version. */
  tfjsVersion?: string;
}

export interface InitBackendOptions {
  /** Default 'auto'. With 'auto' (or unset), env HSFL_BACKEND decides if set. */
  preferred?: BackendPreference;
  /** Register the project kernels (default: env HSFL_PROJECT_KERNELS != '0', else true). */
  projectKernels?: boolean;
}

const ALIASES: Record<string, BackendPreference> = {
  auto: 'auto',
  tensorflow: 'tensorflow',
  node: 'tensorflow',
  'tfjs-node': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** Parse a backend preference (as from HSFL_BACKEND); throws on unknown values. */
export function parseBackendPreference(value: string | undefined): BackendPreference {
  if (value == null || value.trim() === '') return 'auto';
  const v = ALIASES[value.trim().toLowerCase()];
  if (!v) {
    throw new Error(`unknown tfjs backend '${value}' (expected one of auto, tensorflow, wasm, cpu)`);
  }
  return v;
}

function envFlag(value: string | undefined, dflt: boolean): boolean {
  if (value == null || value === '') return dflt;
  return !['0', 'false', 'no', 'off'].includes(value.trim().toLowerCase());
}

let current: BackendInfo | undefined;
let currentKey: string | undefined;
let pending: { key: string; promise: Promise<BackendInfo> } | undefined;

/** The backend chosen by the last successful `initBackend`, if any. */
export function getBackendInfo(): BackendInfo | undefined {
  return current;
}

/** One line for logs, e.g. "wasm (simd, 1 thread; project kernels: Conv2DBackpropFilter, ...)". */
export function describeBackend(info: BackendInfo): string {
  const bits: string[] = [];
  if (info.simd != null) bits.push(info.simd ? 'simd' : 'no simd');
  if (info.threads != null) bits.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  const k = info.projectKernels.length ? `project kernels: ${info.projectKernels.join(', ')}` : 'stock kernels';
  return `${info.name} (${[...bits, k].join(', ')})${info.reason ? ` - ${info.reason}` : ''}`;
}

/**
 * Choose and activate a tfjs backend. Idempotent: a second call with the same
 * options returns the same info (re-activating the backend if someone switched
 * away); concurrent calls share one initialisation.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  // an explicit backend in opts wins; HSFL_BACKEND overrides 'auto' (CLIs often pass 'auto' as their default)
  const requested = opts.preferred == null ? 'auto' : parseBackendPreference(opts.preferred);
  const preferred = requested === 'auto' ? parseBackendPreference(process.env.HSFL_BACKEND) : requested;
  const projectKernels = opts.projectKernels ?? envFlag(process.env.HSFL_PROJECT_KERNELS, true);
  const key = `${preferred}|${projectKernels}`;
  if (current && currentKey === key) {
    if (tf.getBackend() !== current.name) await tf.setBackend(current.name);
    return current;
  }
  if (pending && pending.key === key) return pending.promise;
  const promise = select(preferred, projectKernels).then(
    (info) => {
      current = info;
      currentKey = key;
      return info;
    },
  );
  pending = { key, promise };
  try {
    return await promise;
  } finally {
    if (pending?.promise === promise) pending = undefined;
  }
}

async function select(preferred: BackendPreference, projectKernels: boolean): Promise<BackendInfo> {
  // the untouched tfjs cpu backend stays available as 'cpu-stock' for baselines (lazy: costs nothing unused)
  registerStockCpuBackend();
  const order: BackendName[] =
    preferred === 'auto' || preferred === 'tensorflow'
      ? ['tensorflow', 'wasm', 'cpu']
      : preferred === 'wasm'
        ? ['wasm', 'cpu']
        : ['cpu'];
  const failures: string[] = [];
  for (const name of order) {
    try {
      const info = await tryBackend(name, projectKernels);
      const why =
        failures.length === 0
          ? `${preferred === 'auto' ? 'auto' : 'requested'}: ${name}`
          : `${preferred === 'auto' ? 'auto' : `requested ${preferred}`}: ${failures.join('; ')}; using ${name}`;
      return { ...info, reason: why };
    } catch (e) {
      failures.push(`${name} unavailable (${firstLine(e)})`);
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${failures.join('; ')}`);
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

async function tryBackend(name: BackendName, projectKernels: boolean): Promise<Omit<BackendInfo, 'reason'>> {
  const tfjsVersion = tf.version_core;
  if (name === 'tensorflow') {
    // Optional peer dependency: a variable specifier keeps TypeScript and
    // bundlers from requiring it at build time.
    const spec = '@tensorflow/tfjs-node';
    await import(spec);
    if (!(await tf.setBackend('tensorflow'))) throw new Error("tf.setBackend('tensorflow') failed");
    await tf.ready();
    return { name, projectKernels: [], tfjsVersion };
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const kernels = setKernels('wasm', projectKernels);
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed (wasm binary could not load)");
    await tf.ready();
    const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    let threads = 1;
    try {
      threads = wasm.getThreadsCount();
    } catch {
      /* older builds: single-threaded */
    }
    return { name, simd, threads, projectKernels: kernels, tfjsVersion };
  }
  const kernels = setKernels('cpu', projectKernels);
  if (!(await tf.setBackend('cpu'))) throw new Error("tf.setBackend('cpu') failed");
  await tf.ready();
  quietCpuBanner(tf.backend());
  return { name, threads: 1, projectKernels: kernels, tfjsVersion };
}

function setKernels(name: KernelBackendName, on: boolean): string[] {
  if (on) return registerProjectKernels(name);
  if (installedKernels(name).length) unregisterProjectKernels(name);
  return [];
}

/**
 * tfjs-backend-cpu prints a banner recommending tfjs-node on first use under
 * Node; hsfl reports the backend choice (and why) through BackendInfo instead.
 */
function quietCpuBanner(backend: unknown): void {
  const b = backend as { firstUse?: boolean };
  if (b && typeof b.firstUse === 'boolean') b.firstUse = false;
}
