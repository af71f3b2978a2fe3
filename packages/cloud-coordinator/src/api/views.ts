import { hostname } from 'node:os';
import { modelInfo, modelProfile } from '@hsfl/runtime';
import type { Coordinator, EdgeInfo, Plan } from '../coordinator.js';
import type { CapacityRow, NodeRow, PlanRow, RunRow, Store } from '../store/index.js';
import { canReplan } from './types.js';
import type {
  CapacitySummary, EdgeView, ModelView, NodesView, NodeView, Overview, PlanHistoryRow, PlanJson, PlanView, RunView,
} from './view-types.js';

export type { CapacitySummary, EdgeView, ModelView, NodesView, NodeView, Overview, PlanView, RunView } from './view-types.js';

// The protocol's Plan is what the API sends as a PlanJson: the same fields.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const planJsonHasPlanFields: SameKeys<Plan, PlanJson> = true;
const planIsPlanJson = (p: Plan): PlanJson => p;
void planJsonHasPlanFields;
void planIsPlanJson;

const num = (x: unknown): number | null => {
  const n = typeof x === 'number' ? x : typeof x === 'string' || typeof x === 'bigint' ? Number(x) : NaN;
  return Number.isFinite(n) ? n : null;
};
const nums = (x: unknown): number[] => (Array.isArray(x) ? x.map((v) => num(v) ?? 0) : []);

export function summarizeCapacity(row: CapacityRow): CapacitySummary {
  const r = (row.report ?? {}) as Record<string, unknown>;
  const fwd = nums(r.fwdMsPerSample);
  const bwd = nums(r.bwdMsPerSample);
  const compute = fwd.length || bwd.length ? fwd.reduce((a, b) => a + b, 0) + bwd.reduce((a, b) => a + b, 0) : null;
  return {
    at: row.at,
    computeMsPerSample: compute,
    fwdMsPerSample: fwd,
    bwdMsPerSample: bwd,
    memTotalBytes: num(r.memTotalBytes),
    memFreeBytes: num(r.memFreeBytes),
    upBytesPerSec: num(r.upBytesPerSec),
    downBytesPerSec: num(r.downBytesPerSec),
    rttMs: num(r.rttMs),
    cpus: num(r.cpus),
    backend: typeof r.backend === 'string' ? r.backend : null,
    batchSize: num(r.batchSize),
    report: row.report,
  };
}

/** The newest capacity report of each node: of the run (if any) and those measured outside any run. */
export function latestCapacity(store: Store, runId: string | null): Map<string, CapacitySummary> {
  const out = new Map<string, CapacitySummary>();
  const take = (row: CapacityRow) => {
    const prev = out.get(row.nodeId);
    if (!prev || prev.at <= row.at) out.set(row.nodeId, summarizeCapacity(row));
  };
  for (const row of store.listCapacity(null)) take(row);
  if (runId) for (const row of store.latestCapacity(runId)) take(row);
  return out;
}

/** The run the dashboard looks at by default: the active one, else the newest. */
export function currentRunId(coord: Coordinator): string | null {
  return coord.runId ?? coord.store.listRuns({ limit: 1 })[0]?.id ?? null;
}

export function nodesView(coord: Coordinator, backend: string, removed: ReadonlySet<string> = new Set()): NodesView {
  const store = coord.store;
  const runId = currentRunId(coord);
  const cap = latestCapacity(store, runId);
  const edges: EdgeInfo[] = coord.topology();
  const live = new Set<string>();
  const edgeViews: EdgeView[] = edges.map((e) => {
    live.add(e.id);
    return {
      id: e.id, role: 'edge', parentId: 'cloud', status: 'connected', backend: e.backend, host: e.host, samples: null,
      capacity: cap.get(e.id) ?? null,
      devices: e.devices.map((d) => {
        live.add(d.id);
        return { id: d.id, role: 'device', parentId: e.id, status: 'connected', backend: d.backend, host: d.host, samples: d.samples, capacity: cap.get(d.id) ?? null };
      }),
    };
  });
  const rows: NodeRow[] = runId ? store.listNodes(runId) : [];
  const departed: NodeView[] = rows
    .filter((n) => !live.has(n.nodeId) && n.role !== 'cloud')
    .map((n) => ({
      id: n.nodeId, role: n.role, parentId: n.parentId, status: removed.has(n.nodeId) ? 'removed' : n.status === 'connected' ? 'disconnected' : n.status, backend: n.backend,
      host: n.host, samples: n.samples, capacity: cap.get(n.nodeId) ?? null,
    }));
  return {
    runId,
    cloud: { id: 'cloud', role: 'cloud', parentId: null, status: 'connected', backend, host: hostname(), samples: null, capacity: cap.get('cloud') ?? null },
    edges: edgeViews,
    departed,
    counts: { edges: edgeViews.length, devices: edgeViews.reduce((n, e) => n + e.devices.length, 0) },
  };
}

export function modelView(name: string): ModelView | null {
  try {
    const info = modelInfo(name);
    const prof = modelProfile(name);
    return {
      name: info.name,
      numUnits: info.numUnits,
      units: prof.units.map((u) => ({ name: u.name, paramBytes: u.paramBytes, outputBytesPerSample: u.outputBytesPerSample, flopsPerSample: u.flopsPerSample })),
    };
  } catch {
    return null;
  }
}

function planOf(row: PlanRow | undefined): Plan | null {
  return row ? (row.plan as Plan) : null;
}

export function planView(coord: Coordinator, run: RunRow): PlanView {
  const store = coord.store;
  const history = store.listPlans(run.id) as PlanHistoryRow[];
  const active = coord.runId === run.id;
  const current = active ? (coord.plan ?? null) : planOf(history[history.length - 1]);
  const row = current ? history.find((h) => h.version === current.version) : undefined;
  const modelName = current?.model ?? (run.config as { model?: string } | null)?.model;
  return {
    runId: run.id,
    active,
    current,
    prediction: row?.prediction ?? null,
    reason: row?.reason ?? null,
    appliedAtRound: row?.appliedAtRound ?? null,
    history,
    model: modelName ? modelView(modelName) : null,
    replanAvailable: canReplan(coord),
  };
}

export function runView(coord: Coordinator, run: RunRow): RunView {
  const store = coord.store;
  const active = coord.runId === run.id;
  const last = store.listRoundMetrics(run.id, { limit: 1 })[0] ?? null;
  const cfg = run.config as { rounds?: number } | null;
  const plan = active ? (coord.plan ?? null) : planOf(store.latestPlan(run.id));
  return {
    run,
    active,
    paused: active && coord.paused,
    round: active ? (coord.currentRound ?? 0) : last ? last.round + 1 : 0,
    rounds: plan?.rounds ?? (typeof cfg?.rounds === 'number' ? cfg.rounds : null),
    plan,
    last,
    hasModel: active || store.latestCheckpoint(run.id) !== undefined,
  };
}

export function overview(coord: Coordinator, backend: string): Overview {
  const id = currentRunId(coord);
  const row = id ? coord.store.getRun(id) : undefined;
  const topo = coord.topology();
  return {
    now: Date.now(),
    backend,
    host: hostname(),
    activeRunId: coord.runId ?? null,
    run: row ? runView(coord, row) : null,
    replanAvailable: canReplan(coord),
    counts: { edges: topo.length, devices: topo.reduce((n, e) => n + e.devices.length, 0) },
  };
}
