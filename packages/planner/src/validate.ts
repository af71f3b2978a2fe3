import { TopologyError } from './errors.js';
import type {
  CloudNode, ComputeProfile, DeviceNode, EdgeNode, LinkProfile, ModelProfile, Plan,
  SurrogateParams, Topology, UnitCost,
} from './types.js';

type Obj = Record<string, unknown>;

/** Whether unknown fields are errors (topologyFromJson) or ignored (internal checks). */
let rejectUnknown = true;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function obj(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TopologyError(path || '(root)', `must be an object, got ${describe(v)}`);
  }
  for (const k of rejectUnknown ? Object.keys(v) : []) {
    if (!allowed.includes(k)) {
      throw new TopologyError(path ? `${path}.${k}` : k, `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }
  return v as Obj;
}

function num(v: unknown, path: string, opts: { min?: number; positive?: boolean; integer?: boolean } = {}): number {
  if (v === undefined) throw new TopologyError(path, 'is required');
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new TopologyError(path, `must be a finite number, got ${describe(v)}`);
  }
  if (opts.integer && !Number.isInteger(v)) throw new TopologyError(path, `must be an integer, got ${v}`);
  if (opts.positive && !(v > 0)) throw new TopologyError(path, `must be > 0, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw new TopologyError(path, `must be >= ${opts.min}, got ${v}`);
  return v;
}

function str(v: unknown, path: string): string {
  if (v === undefined) throw new TopologyError(path, 'is required');
  if (typeof v !== 'string' || v.length === 0) {
    throw new TopologyError(path, `must be a non-empty string, got ${describe(v)}`);
  }
  return v;
}

function arr(v: unknown, path: string): unknown[] {
  if (v === undefined) throw new TopologyError(path, 'is required');
  if (!Array.isArray(v)) throw new TopologyError(path, `must be an array, got ${describe(v)}`);
  return v;
}

function numArray(v: unknown, path: string, length: number, what: string): number[] {
  const a = arr(v, path);
  if (a.length !== length) {
    throw new TopologyError(path, `must have one entry per model unit (${length}), got ${a.length}${what ? ` (${what})` : ''}`);
  }
  return a.map((x, i) => num(x, `${path}[${i}]`, { min: 0 }));
}

function unit(v: unknown, path: string): UnitCost {
  const o = obj(v, path, ['name', 'paramBytes', 'outputBytesPerSample', 'flopsPerSample']);
  const u: UnitCost = {
    name: str(o.name, `${path}.name`),
    paramBytes: num(o.paramBytes, `${path}.paramBytes`, { min: 0 }),
    outputBytesPerSample: num(o.outputBytesPerSample, `${path}.outputBytesPerSample`, { min: 0 }),
  };
  if (o.flopsPerSample !== undefined) u.flopsPerSample = num(o.flopsPerSample, `${path}.flopsPerSample`, { min: 0 });
  return u;
}

function model(v: unknown): ModelProfile {
  const o = obj(v, 'model', ['name', 'inputBytesPerSample', 'labelBytesPerSample', 'units', 'memPerSampleBytes']);
  const unitsRaw = arr(o.units, 'model.units');
  if (unitsRaw.length === 0) throw new TopologyError('model.units', 'must contain at least one unit');
  const m: ModelProfile = {
    inputBytesPerSample: num(o.inputBytesPerSample, 'model.inputBytesPerSample', { min: 0 }),
    labelBytesPerSample: num(o.labelBytesPerSample, 'model.labelBytesPerSample', { min: 0 }),
    units: unitsRaw.map((u, i) => unit(u, `model.units[${i}]`)),
  };
  if (o.name !== undefined) m.name = str(o.name, 'model.name');
  if (o.memPerSampleBytes !== undefined) {
    m.memPerSampleBytes = numArray(o.memPerSampleBytes, 'model.memPerSampleBytes', unitsRaw.length, '');
  }
  return m;
}

function compute(v: unknown, path: string, L: number): ComputeProfile {
  const o = obj(v, path, ['fwdMsPerSample', 'bwdMsPerSample']);
  return {
    fwdMsPerSample: numArray(o.fwdMsPerSample, `${path}.fwdMsPerSample`, L, 'profile the node against this model'),
    bwdMsPerSample: numArray(o.bwdMsPerSample, `${path}.bwdMsPerSample`, L, 'profile the node against this model'),
  };
}

function link(v: unknown, path: string): LinkProfile {
  const o = obj(v, path, ['upBytesPerSec', 'downBytesPerSec', 'rttMs']);
  return {
    upBytesPerSec: num(o.upBytesPerSec, `${path}.upBytesPerSec`, { positive: true }),
    downBytesPerSec: num(o.downBytesPerSec, `${path}.downBytesPerSec`, { positive: true }),
    rttMs: num(o.rttMs, `${path}.rttMs`, { min: 0 }),
  };
}

/**
 * Validate untrusted input (an object or a JSON string) and return a clean
 * Topology (a copy holding only known fields). Throws TopologyError naming
 * the field and the reason on the first problem found.
 */
export function topologyFromJson(input: unknown): Topology {
  return parseTopology(input, true);
}

/**
 * Check a typed Topology before planning (same rules as topologyFromJson,
 * but fields the planner does not know are ignored). Returns a clean copy.
 */
export function checkTopology(topo: Topology): Topology {
  return parseTopology(topo, false);
}

function parseTopology(input: unknown, strict: boolean): Topology {
  const saved = rejectUnknown;
  rejectUnknown = strict;
  try {
    return parseTopologyInner(input);
  } finally {
    rejectUnknown = saved;
  }
}

function parseTopologyInner(input: unknown): Topology {
  let raw = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new TopologyError('(root)', `not valid JSON: ${(e as Error).message}`);
    }
  }
  const o = obj(raw, '', ['model', 'batchSize', 'devices', 'edges', 'cloud']);
  const m = model(o.model);
  const L = m.units.length;
  const batchSize = num(o.batchSize, 'batchSize', { positive: true, integer: true });

  const edgesRaw = arr(o.edges, 'edges');
  if (edgesRaw.length === 0) throw new TopologyError('edges', 'must contain at least one edge');
  const edgeIds = new Set<string>();
  const edges: EdgeNode[] = edgesRaw.map((ev, i) => {
    const p = `edges[${i}]`;
    const eo = obj(ev, p, ['id', 'compute', 'link', 'memFreeBytes']);
    const id = str(eo.id, `${p}.id`);
    if (edgeIds.has(id)) throw new TopologyError(`${p}.id`, `duplicate edge id ${JSON.stringify(id)}`);
    edgeIds.add(id);
    const e: EdgeNode = { id, compute: compute(eo.compute, `${p}.compute`, L), link: link(eo.link, `${p}.link`) };
    if (eo.memFreeBytes !== undefined) e.memFreeBytes = num(eo.memFreeBytes, `${p}.memFreeBytes`, { min: 0 });
    return e;
  });

  const devicesRaw = arr(o.devices, 'devices');
  if (devicesRaw.length === 0) throw new TopologyError('devices', 'must contain at least one device');
  const deviceIds = new Set<string>();
  const devices: DeviceNode[] = devicesRaw.map((dv, i) => {
    const p = `devices[${i}]`;
    const d = obj(dv, p, ['id', 'edgeId', 'compute', 'link', 'memFreeBytes', 'samples']);
    const id = str(d.id, `${p}.id`);
    if (deviceIds.has(id)) throw new TopologyError(`${p}.id`, `duplicate device id ${JSON.stringify(id)}`);
    deviceIds.add(id);
    const edgeId = str(d.edgeId, `${p}.edgeId`);
    if (!edgeIds.has(edgeId)) {
      throw new TopologyError(`${p}.edgeId`, `refers to unknown edge ${JSON.stringify(edgeId)} (known: ${[...edgeIds].join(', ')})`);
    }
    const dev: DeviceNode = {
      id, edgeId,
      compute: compute(d.compute, `${p}.compute`, L),
      link: link(d.link, `${p}.link`),
      memFreeBytes: num(d.memFreeBytes, `${p}.memFreeBytes`, { min: 0 }),
    };
    if (d.samples !== undefined) dev.samples = num(d.samples, `${p}.samples`, { min: 0, integer: true });
    return dev;
  });

  const co = obj(o.cloud, 'cloud', ['compute', 'memFreeBytes']);
  const cloud: CloudNode = { compute: compute(co.compute, 'cloud.compute', L) };
  if (co.memFreeBytes !== undefined) cloud.memFreeBytes = num(co.memFreeBytes, 'cloud.memFreeBytes', { min: 0 });

  return { model: m, batchSize, devices, edges, cloud };
}

/** Throws RangeError unless `plan` is a well-formed plan for a model of L units. */
export function assertPlan(plan: Plan, L: number): void {
  const { c1, c2, i1, i2 } = plan;
  if (!Number.isInteger(c1) || !Number.isInteger(c2) || c1 < 0 || c1 > c2 || c2 > L) {
    throw new RangeError(`plan cuts must be integers with 0 <= c1 <= c2 <= L=${L}, got c1=${c1}, c2=${c2}`);
  }
  if (!Number.isInteger(i1) || !Number.isInteger(i2) || i1 < 1 || i2 < 1) {
    throw new RangeError(`plan intervals must be integers >= 1, got i1=${i1}, i2=${i2}`);
  }
}

/** Throws RangeError unless the surrogate constants are usable for L units. */
export function assertSurrogate(p: SurrogateParams, L: number): void {
  for (const k of ['theta', 'gamma', 'eps', 'A', 'C'] as const) {
    if (typeof p[k] !== 'number' || !Number.isFinite(p[k])) throw new RangeError(`surrogate ${k} must be a finite number, got ${p[k]}`);
  }
  if (!(p.theta > 0)) throw new RangeError(`surrogate theta must be > 0, got ${p.theta}`);
  if (!(p.gamma > 0)) throw new RangeError(`surrogate gamma must be > 0, got ${p.gamma}`);
  if (p.C < 0) throw new RangeError(`surrogate C must be >= 0, got ${p.C}`);
  if (!Array.isArray(p.G2) || p.G2.length !== L) {
    throw new RangeError(`surrogate G2 must have one entry per unit (${L}), got ${Array.isArray(p.G2) ? p.G2.length : typeof p.G2}`);
  }
  p.G2.forEach((g, j) => {
    if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) throw new RangeError(`surrogate G2[${j}] must be a finite number >= 0, got ${g}`);
  });
}
