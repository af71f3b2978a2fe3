/** Human-readable plan report for CLIs and logs. */
import type { PlanResult, Topology } from './types.js';

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(2)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

function formatBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

function table(rows: string[][], rightAlign: boolean[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (rightAlign[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

function unitRange(topo: Topology, from: number, to: number): string {
  if (from === to) return '(none)';
  const names = topo.model.units.slice(from, to).map((u) => u.name);
  const shown = names.length > 4 ? `${names.slice(0, 2).join(', ')}, …, ${names[names.length - 1]}` : names.join(', ');
  const bytes = topo.model.units.slice(from, to).reduce((s, u) => s + u.paramBytes, 0);
  return `[${from},${to}) ${shown} (${formatBytes(bytes)} params)`;
}

export function formatPlanReport(result: PlanResult, topo: Topology): string {
  const { plan, breakdown: b } = result;
  const L = topo.model.units.length;
  const activeEdges = new Set(topo.devices.map((d) => d.edgeId)).size;
  const lines: string[] = [];
  lines.push(
    `HSFL plan for ${topo.model.name ? `model "${topo.model.name}"` : 'model'}: ${L} units, batch ${topo.batchSize}, ` +
      `${topo.devices.length} devices under ${activeEdges} edge${activeEdges === 1 ? '' : 's'}`,
  );
  lines.push(`  cuts        c1=${plan.c1}, c2=${plan.c2}`);
  lines.push(`    devices   ${unitRange(topo, 0, plan.c1)}`);
  lines.push(`    edges     ${unitRange(topo, plan.c1, plan.c2)}`);
  lines.push(`    cloud     ${unitRange(topo, plan.c2, L)}`);
  const every = (i: number) => `FedAvg every ${i === 1 ? 'round' : `${i} rounds`}`;
  const devTier = plan.c1 === 0 ? 'device tier holds no units' : `device tier ${every(plan.i1)}`;
  const edgeTier = plan.c2 === plan.c1 ? 'edge tier holds no units' : `edge tier ${every(plan.i2)}`;
  lines.push(`  intervals   I1=${plan.i1} (${devTier}), I2=${plan.i2} (${edgeTier})`);
  lines.push(`  round       ${formatMs(result.predictedRoundMs)} predicted (mean, incl. amortised aggregation)`);
  lines.push(`  rounds      ${Number.isFinite(result.rounds) ? Math.ceil(result.rounds) : 'never'} predicted to reach the target`);
  lines.push(`  to target   ${formatMs(result.objective)}`);
  lines.push(`  search      ${result.iterations} iterations, ${result.evaluated} plan evaluations`);
  lines.push('');
  lines.push(
    `  critical path: up via device ${b.critical.upDeviceId} -> edge ${b.critical.upEdgeId}, ` +
      `down via edge ${b.critical.downEdgeId} -> device ${b.critical.downDeviceId}`,
  );
  const parts: Array<[string, number]> = [
    ['device compute (fwd+bwd)', b.deviceCompute],
    ['device -> edge (activations)', b.deviceUp],
    ['edge compute (fwd+bwd)', b.edgeCompute],
    ['edge -> cloud (activations)', b.edgeUp],
    ['cloud compute (fwd+loss+bwd)', b.cloudCompute],
    ['cloud -> edge (gradients)', b.edgeDown],
    ['edge -> device (gradients)', b.deviceDown],
    [`device-tier aggregation / ${plan.i1}`, b.aggDevice],
    [`edge-tier aggregation / ${plan.i2}`, b.aggEdge],
  ];
  const pct = (v: number) => (b.total > 0 ? `${((100 * v) / b.total).toFixed(1)}%` : '-');
  lines.push(
    ...table(
      [['per round', 'ms', 'share'], ...parts.map(([k, v]) => [k, v.toFixed(2), pct(v)]), ['total', b.total.toFixed(2), pct(b.total)]],
      [false, true, true],
    ),
  );
  lines.push('');
  if (result.runnersUp.length === 0) {
    lines.push('  runners-up: none (no other feasible cut pair)');
  } else {
    const rows = [['runner-up', 'c1', 'c2', 'I1', 'I2', 'round', 'rounds', 'to target', 'vs chosen']];
    result.runnersUp.forEach((r, k) => {
      rows.push([
        `#${k + 2}`, String(r.plan.c1), String(r.plan.c2), String(r.plan.i1), String(r.plan.i2),
        formatMs(r.predictedRoundMs),
        Number.isFinite(r.rounds) ? String(Math.ceil(r.rounds)) : 'never',
        formatMs(r.objective),
        result.objective > 0 ? `+${((100 * (r.objective - result.objective)) / result.objective).toFixed(1)}%` : '-',
      ]);
    });
    lines.push(...table(rows, [false, true, true, true, true, true, true, true, true]));
  }
  return lines.join('\n');
}
