/**
 * Kernel-registry plumbing shared by the project kernels.
 *
 * - `installKernel` registers a project kernel through tfjs's own registry
 *   (unregister + register, so tfjs does not warn), remembering the stock
 *   config it replaces so that project kernels can still call it and so that a
 *   `cpu-stock` backend can be built from the untouched cpu kernels.
 * - `KernelScope` runs other registered kernels *inside* a kernel function on
 *   the same backend (no engine round-trip, no tape) and frees every
 *   intermediate it did not hand back as the result.
 */
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  util,
  type DataId,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** Minimal view of a tfjs backend as the project kernels use it. */
export interface BackendLike {
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef?(dataId: DataId): void;
  readSync(dataId: DataId): unknown;
}

const stockConfigs = new Map<string, KernelConfig>();
const projectConfigs = new WeakSet<KernelConfig>();
const installed = new Map<string, Set<string>>();

const key = (kernelName: string, backendName: string): string => `${backendName}/${kernelName}`;

/** The stock (tfjs-shipped) kernel config, even after a project kernel replaced it. */
export function stockKernel(kernelName: string, backendName: string): KernelConfig | undefined {
  const saved = stockConfigs.get(key(kernelName, backendName));
  if (saved) return saved;
  const current = getKernel(kernelName, backendName);
  return current && !projectConfigs.has(current) ? current : undefined;
}

/** True if the currently registered kernel is one of ours. */
export function isProjectKernel(kernelName: string, backendName: string): boolean {
  const current = getKernel(kernelName, backendName);
  return current != null && projectConfigs.has(current);
}

/** Names of the project kernels installed for a backend. */
export function installedKernels(backendName: string): string[] {
  return [...(installed.get(backendName) ?? [])].sort();
}

/**
 * Register `config`, replacing (and remembering) any stock kernel of the same
 * name. The stock kernel's setupFunc is chained so that kernels we delegate to
 * (e.g. wasm's cwrap-ed BatchMatMul) are still set up when the backend
 * initialises after our registration. Idempotent.
 */
export function installKernel(config: KernelConfig): void {
  const { kernelName, backendName } = config;
  const k = key(kernelName, backendName);
  const current = getKernel(kernelName, backendName);
  if (current != null && !projectConfigs.has(current) && !stockConfigs.has(k)) {
    stockConfigs.set(k, current);
  }
  const stock = stockConfigs.get(k);
  let setupFunc = config.setupFunc;
  if (stock?.setupFunc) {
    const stockSetup = stock.setupFunc;
    const own = config.setupFunc;
    setupFunc = (backend) => {
      stockSetup(backend);
      own?.(backend);
    };
  }
  const final: KernelConfig = { ...config, setupFunc };
  projectConfigs.add(final);
  if (current != null) unregisterKernel(kernelName, backendName);
  registerKernel(final);
  let set = installed.get(backendName);
  if (!set) installed.set(backendName, (set = new Set()));
  set.add(kernelName);
}

/** Put the stock kernels back (used by tests and `restoreStockKernels`). */
export function uninstallKernels(backendName: string): void {
  for (const name of installedKernels(backendName)) {
    const current = getKernel(name, backendName);
    if (current == null || !projectConfigs.has(current)) continue; // replaced by someone else since: leave it
    unregisterKernel(name, backendName);
    const stock = stockConfigs.get(key(name, backendName));
    if (stock) registerKernel(stock);
  }
  installed.delete(backendName);
}

/** A TensorInfo that shares `t`'s data under another shape (no ownership, no copy). */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  if (util.sizeFromShape(shape) !== util.sizeFromShape(t.shape)) {
    throw new Error(`view: cannot view [${t.shape}] as [${shape}]`);
  }
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/**
 * Runs registered kernels on one backend and owns their outputs until
 * `dispose()`; `keep()` transfers ownership of one output to the caller (the
 * kernel's result).
 */
export class KernelScope {
  private temps: TensorInfo[] = [];

  constructor(
    readonly backend: BackendLike,
    readonly backendName: string,
  ) {}

  /** Run the currently registered kernel `name` (may be a project kernel). */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const cfg = getKernel(name, this.backendName);
    if (!cfg) throw new Error(`Kernel '${name}' not registered for backend '${this.backendName}'`);
    return this.call(cfg.kernelFunc, inputs, attrs);
  }

  /** Run the stock kernel `name`, bypassing a project override. */
  runStock(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const cfg = stockKernel(name, this.backendName);
    if (!cfg) throw new Error(`Stock kernel '${name}' not registered for backend '${this.backendName}'`);
    return this.call(cfg.kernelFunc, inputs, attrs);
  }

  private call(fn: KernelFunc, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
    const out = fn({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) {
      this.temps.push(...out);
      throw new Error('KernelScope.run: multi-output kernels are not supported');
    }
    this.temps.push(out);
    return out;
  }

  /** Adopt a TensorInfo created elsewhere on this backend (disposed with the scope). */
  adopt(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  /** Hand `t` (an output of this scope) to the caller, optionally under a new shape. */
  keep(t: TensorInfo, shape: number[] = t.shape, dtype: DataType = t.dtype): TensorInfo {
    const i = this.temps.indexOf(t);
    if (i < 0) throw new Error('KernelScope.keep: tensor is not owned by this scope');
    this.temps.splice(i, 1);
    if (util.sizeFromShape(shape) !== util.sizeFromShape(t.shape)) {
      throw new Error(`KernelScope.keep: cannot view [${t.shape}] as [${shape}]`);
    }
    return { dataId: t.dataId, shape, dtype };
  }

  dispose(): void {
    const temps = this.temps;
    this.temps = [];
    for (const t of temps) this.backend.disposeData(t.dataId);
  }
}

/** Run `fn` with a fresh scope, always freeing the intermediates. */
export function withScope<T>(backend: BackendLike, backendName: string, fn: (s: KernelScope) => T): T {
  const scope = new KernelScope(backend, backendName);
  try {
    return fn(scope);
  } finally {
    scope.dispose();
  }
}
