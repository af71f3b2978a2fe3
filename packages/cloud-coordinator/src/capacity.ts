// Measured capacity: the reports edges forward (their own and their
// devices'), checked before they reach the planner, and the cloud's own.
import { ProtocolError, checkCapacityFigures, CLOUD_ID, Role, type MessageOf, type EVENTS } from '@hsfl/protocol';
import { measureCompute, modelInfo } from '@hsfl/runtime';
import type { CapacitySnapshot } from './planning.js';

/** A report an edge sent: about itself or one of its own devices, with figures that make sense. */
export function capacitySnapshot(edgeId: string, hasDevice: (id: string) => boolean, m: MessageOf<typeof EVENTS.capacityReport>): CapacitySnapshot {
  const own = m.role === Role.ROLE_EDGE && m.nodeId === edgeId;
  const child = m.role === Role.ROLE_DEVICE && m.parentId === edgeId && hasDevice(m.nodeId);
  if (!own && !child) throw new ProtocolError('malformed', `edge ${edgeId} may report only itself and its own devices`);
  let L: number;
  try {
    L = modelInfo(m.model).numUnits;
  } catch {
    throw new ProtocolError('malformed', `unknown model ${m.model}`);
  }
  checkCapacityFigures(m, L);
  return {
    nodeId: m.nodeId, role: own ? 'edge' : 'device', parentId: own ? CLOUD_ID : edgeId, backend: m.backend, host: m.host, model: m.model,
    batchSize: m.batchSize, fwdMsPerSample: [...m.fwdMsPerSample], bwdMsPerSample: [...m.bwdMsPerSample], peakBytes: [...m.peakBytes],
    memTotalBytes: m.memTotalBytes, memFreeBytes: m.memFreeBytes, upBytesPerSec: m.upBytesPerSec, downBytesPerSec: m.downBytesPerSec,
    rttMs: m.rttMs, cpus: m.cpus, measuredAtMs: m.measuredAtMs,
  };
}

/** Measures the cloud itself at the batch it will see (every device's batch at once). */
export async function measureCloud(model: string, batch: number, backend: string): Promise<CapacitySnapshot> {
  const c = await measureCompute(model, batch);
  return {
    nodeId: CLOUD_ID, role: 'cloud', parentId: '', backend, host: CLOUD_ID, model, batchSize: batch,
    fwdMsPerSample: c.fwdMsPerSample, bwdMsPerSample: c.bwdMsPerSample, peakBytes: c.peakBytes, memTotalBytes: c.memTotalBytes,
    memFreeBytes: c.memFreeBytes, upBytesPerSec: 0, downBytesPerSec: 0, rttMs: 0, cpus: c.cpus, measuredAtMs: Date.now(),
  };
}
