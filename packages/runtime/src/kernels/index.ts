/**
 * The project's training kernels, registered through tfjs's kernel registry
 * (no fork or patch of tfjs). See docs/runtime.md.
 */
import { copyRegisteredKernels, findBackendFactory, getKernelsForBackend, registerBackend, registerKernel } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { cpuKernelConfigs } from './cpu.js';
import { wasmKernelConfigs } from './wasm.js';
import { installKernel, installedKernels, stockKernel, uninstallKernels } from './registry.js';

export { installedKernels, stockKernel } from './registry.js';

/** Backends the project ships kernels for. */
export type KernelBackendName = 'wasm' | 'cpu';

/** Name under which the untouched tfjs cpu backend is registered for baselines. */
export const STOCK_CPU_BACKEND = 'cpu-stock';

/** Kernel names the project registers, per backend. */
export const PROJECT_KERNELS: Readonly<Record<KernelBackendName, readonly string[]>> = {
  wasm: wasmKernelConfigs.map((k) => k.kernelName),
  cpu: cpuKernelConfigs.map((k) => k.kernelName),
};

/**
 * Register the project kernels for `backendName` (idempotent). For 'cpu' the
 * stock kernels are first copied to the `cpu-stock` backend, so a stock
 * baseline stays available in the same process. Returns the names installed.
 */
export function registerProjectKernels(backendName: KernelBackendName): string[] {
  if (backendName === 'cpu') registerStockCpuBackend();
  const configs = backendName === 'wasm' ? wasmKernelConfigs : cpuKernelConfigs;
  for (const cfg of configs) installKernel(cfg);
  return installedKernels(backendName);
}

/** Put the stock tfjs kernels back for `backendName`. */
export function unregisterProjectKernels(backendName: KernelBackendName): void {
  uninstallKernels(backendName);
}

/**
 * Register tfjs's cpu backend once more under `name` (default 'cpu-stock')
 * with the *stock* cpu kernels, even if project kernels already replaced them
 * on 'cpu'. Priority -1: never picked automatically. Idempotent.
 */
export function registerStockCpuBackend(name: string = STOCK_CPU_BACKEND): string {
  if (findBackendFactory(name) != null) return name;
  registerBackend(name, () => {
    const b = new MathBackendCPU();
    // skip the "install tfjs-node" banner; hsfl reports its backend choice itself
    (b as unknown as { firstUse: boolean }).firstUse = false;
    return b;
  }, -1);
  if (installedKernels('cpu').length === 0) {
    copyRegisteredKernels('cpu', name);
  } else {
    for (const k of getKernelsForBackend('cpu')) {
      const stock = stockKernel(k.kernelName, 'cpu') ?? k;
      registerKernel({ ...stock, backendName: name });
    }
  }
  return name;
}
