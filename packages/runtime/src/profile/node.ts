import { availableParallelism, freemem, totalmem } from 'node:os';
import { profileUnits } from './index.js';

export interface ComputeCapacity {
  fwdMsPerSample: number[];
  bwdMsPerSample: number[];
  peakBytes: number[];
  memTotalBytes: number;
  memFreeBytes: number;
  cpus: number;
}

/**
 * What this machine delivers for a model at a batch size: per-unit compute
 * on the current backend (median of `reps`) and the OS's view of its memory.
 */
export async function measureCompute(model: string, batchSize: number, reps = 3): Promise<ComputeCapacity> {
  const p = await profileUnits(model, batchSize, reps);
  return {
    ...p,
    memTotalBytes: totalmem(),
    memFreeBytes: freemem(),
    cpus: availableParallelism(),
  };
}
