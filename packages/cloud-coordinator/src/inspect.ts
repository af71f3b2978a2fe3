import { existsSync } from 'node:fs';
import { Store } from './store/index.js';

function openExisting(db: string): Store {
  if (!existsSync(db)) throw new Error(`no store at ${db} (pass --db)`);
  return Store.open(db);
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
const when = (t: number | null) => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) : '-');

export function listRunsText(db: string): string {
  const store = openExisting(db);
  try {
    const runs = store.listRuns({ limit: 50 });
    if (!runs.length) return `no runs in ${db}`;
    const rows = runs.map((r) => [r.id, r.name, r.status, when(r.createdAt), pct(r.finalAccuracy)]);
    return table(['run', 'name', 'status', 'created', 'test acc'], rows);
  } finally {
    store.close();
  }
}

export function showRunText(db: string, runId: string): string {
  const store = openExisting(db);
  try {
    const run = store.getRun(runId);
    if (!run) throw new Error(`no run ${runId} in ${db}`);
    const plan = store.latestPlan(runId);
    const metrics = store.listRoundMetrics(runId);
    const nodes = store.listNodes(runId);
    const lines = [
      `run ${run.id} (${run.name}): ${run.status}, created ${when(run.createdAt)}, ended ${when(run.endedAt)}`,
      `final test accuracy ${pct(run.finalAccuracy)}${run.error ? `, error: ${run.error}` : ''}`,
      `plan v${plan?.version ?? '-'}: ${JSON.stringify(plan?.plan ?? null)}`,
      `nodes: ${nodes.map((n) => `${n.nodeId} (${n.role}${n.parentId ? ` under ${n.parentId}` : ''}, ${n.status})`).join(', ') || '-'}`,
      `${metrics.length} rounds recorded`,
    ];
    const capacity = store.latestCapacity(runId);
    if (capacity.length) {
      const rows = capacity.map((c) => {
        const r = c.report as { role?: string; backend?: string; fwdMsPerSample?: number[]; bwdMsPerSample?: number[]; upBytesPerSec?: number; downBytesPerSec?: number; rttMs?: number; memFreeBytes?: number };
        const sum = (xs?: number[]) => (xs ?? []).reduce((a, b) => a + b, 0);
        const rate = (b?: number) => (b && b > 0 ? `${((b * 8) / 1e6).toFixed(1)}` : '-');
        return [c.nodeId, r.role ?? '-', r.backend ?? '-', (sum(r.fwdMsPerSample) + sum(r.bwdMsPerSample)).toFixed(3), rate(r.upBytesPerSec), rate(r.downBytesPerSec),
          r.rttMs !== undefined && r.role !== 'cloud' ? r.rttMs.toFixed(1) : '-', r.memFreeBytes ? `${(r.memFreeBytes / 2 ** 30).toFixed(1)}` : '-'];
      });
      lines.push('measured capacity (latest per node):', table(['node', 'role', 'backend', 'train ms/sample', 'up Mbit/s', 'down Mbit/s', 'rtt ms', 'free GiB'], rows));
    }
    const tested = metrics.filter((m) => m.testAccuracy !== null);
    if (tested.length) {
      lines.push(table(['round', 'loss', 'train acc', 'test acc', 'round ms'], tested.map((m) => [
        String(m.round + 1), m.loss.toFixed(4), pct(m.trainAccuracy), pct(m.testAccuracy), m.roundMs.toFixed(0),
      ])));
    }
    return lines.join('\n');
  } finally {
    store.close();
  }
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}
