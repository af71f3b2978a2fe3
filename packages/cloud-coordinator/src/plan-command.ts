import { existsSync, readFileSync } from 'node:fs';
import { optimize, oracle, topologyFromJson, defaultSurrogateParams, formatPlanReport, type Topology } from '@hsfl/planner';
import { Store } from './store/index.js';
import type { TrialConfig } from './config.js';
import { buildTopology, snapshotFromJson, type CapacitySnapshot } from './planning.js';

export interface PlanCommandOptions {
  db: string;
  run?: string;
  topology?: string;
  oracle: boolean;
  minC1: number;
  iMax: number;
}

/** Topology of a stored run: its nodes and the latest capacity each reported. */
export function storedTopology(store: Store, runId: string): Topology {
  const run = store.getRun(runId);
  if (!run) throw new Error(`no run ${runId} in ${store.path}`);
  const trial = run.config as TrialConfig;
  const capacity = new Map<string, CapacitySnapshot>();
  for (const row of store.latestCapacity(runId)) {
    const snap = snapshotFromJson(row.report);
    if (snap) capacity.set(row.nodeId, snap);
  }
  const nodes = store.listNodes(runId);
  const edges = nodes
    .filter((n) => n.role === 'edge')
    .map((e) => ({ id: e.nodeId, devices: nodes.filter((d) => d.role === 'device' && d.parentId === e.nodeId).map((d) => ({ id: d.nodeId, samples: d.samples ?? 0 })) }));
  const { topology, missing } = buildTopology(trial.model, trial.batchSize, { edges }, capacity);
  if (topology.devices.length === 0) throw new Error(`run ${runId} has no device with a capacity report${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`);
  return topology;
}

/** The text `hsfl-coordinator plan` prints: the chosen plan, its predicted breakdown and the runners-up. */
export function planText(o: PlanCommandOptions): string {
  let topo: Topology;
  let source: string;
  if (o.topology) {
    if (!existsSync(o.topology)) throw new Error(`no topology file ${o.topology}`);
    topo = topologyFromJson(readFileSync(o.topology, 'utf8'));
    source = `topology ${o.topology}`;
  } else if (o.run) {
    if (!existsSync(o.db)) throw new Error(`no store at ${o.db} (pass --db)`);
    const store = Store.open(o.db);
    try {
      topo = storedTopology(store, o.run);
    } finally {
      store.close();
    }
    source = `stored capacity of run ${o.run}`;
  } else {
    throw new Error('give --run <id> (plan from a stored run\'s capacity) or --topology <file.json>');
  }
  const params = defaultSurrogateParams(topo.model.units);
  if (o.run && !o.topology) {
    // Use the per-layer gradient profile measured in the run's warm-up, when its plans recorded one.
    const store = Store.open(o.db);
    try {
      const g2 = store.listPlans(o.run).map((p) => (p.prediction as { G2?: number[] } | null)?.G2).filter((g): g is number[] => Array.isArray(g) && g.length === topo.model.units.length).pop();
      if (g2) params.G2 = g2;
    } finally {
      store.close();
    }
  }
  const opts = { minC1: o.minC1, iMax: o.iMax };
  const result = optimize(topo, params, opts);
  const lines = [`plan for ${source}: ${topo.devices.length} devices, ${topo.edges.length} edges, ${topo.model.units.length} units, batch ${topo.batchSize}`, '', formatPlanReport(result, topo)];
  if (o.oracle) {
    const best = oracle(topo, params, opts);
    const gap = (result.objective / best.objective - 1) * 100;
    lines.push('', `exhaustive oracle: cuts (${best.plan.c1}, ${best.plan.c2}), intervals (${best.plan.i1}, ${best.plan.i2}); the optimizer is ${gap.toFixed(2)}% above it`);
  }
  return lines.join('\n');
}
