// Placeholder backend selection; the runtime-kernels work replaces this file.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export interface BackendInfo { name: BackendName; projectKernels: string[] }

export async function initBackend(opts: { preferred?: BackendName | 'auto' } = {}): Promise<BackendInfo> {
  const want = opts.preferred ?? (process.env.HSFL_BACKEND as BackendName | undefined) ?? 'auto';
  const order: BackendName[] = want === 'auto' ? ['wasm', 'cpu'] : [want];
  for (const name of order) {
    if (await tf.setBackend(name)) { await tf.ready(); return { name, projectKernels: [] }; }
  }
  throw new Error(`no tfjs backend could be initialised (tried ${order.join(', ')})`);
}
