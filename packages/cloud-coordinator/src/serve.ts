import { hostname } from 'node:os';
import { initBackend, loadMnist, modelInfo } from '@hsfl/runtime';
import { Coordinator, type RoundResult } from './coordinator.js';
import { Store } from './store/index.js';
import { trialProblems, type TrialConfig } from './config.js';
import { createLogger } from './log.js';

export interface ServeOptions {
  host: string;
  port: number;
  token: string;
  db: string;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  progress: 'text' | 'jsonl' | 'none';
  logLevel: string;
  trial: TrialConfig;
}

type Progress = Record<string, unknown> & { type: string };

/** Runs one training run as the coordinator process, with progress on stdout. */
export async function serve(o: ServeOptions): Promise<number> {
  const log = createLogger('hsfl-coordinator', o.logLevel);
  const info = modelInfo(o.trial.model);
  const problems = trialProblems(o.trial, info.numUnits);
  if (problems.length) throw new Error(`bad trial configuration:\n  - ${problems.join('\n  - ')}`);
  const backend = await initBackend({ preferred: o.backend });
  log.info({ backend }, 'backend ready');
  const store = Store.open(o.db);
  const { test } = loadMnist();
  const coord = new Coordinator({
    bindHost: o.host, port: o.port, token: o.token, store, trial: o.trial, testData: test, log, backend: backend.name,
  });
  const out = (p: Progress) => {
    if (o.progress === 'jsonl') process.stdout.write(JSON.stringify(p) + '\n');
    else if (o.progress === 'text') process.stdout.write(formatText(p) + '\n');
  };
  coord.on('round', (r: RoundResult & { testAccuracy?: number; wallMs: number }) => out({ type: 'round', ...r, rounds: o.trial.rounds }));
  coord.on('node', (t) => out({ type: 'topology', ...t }));
  coord.on('status', (s) => out({ type: 'status', status: s }));
  const port = await coord.start();
  out({ type: 'listening', port, runId: coord.runId, db: store.path, plan: coord.plan, host: hostname(), backend: backend.name });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'stopping after the current round');
    coord.requestStop();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    const summary = await coord.run();
    out({ type: 'done', ...summary });
    await new Promise((r) => setTimeout(r, 300));
    return summary.status === 'completed' ? 0 : 2;
  } finally {
    await coord.close();
    store.close();
  }
}

function pct(x: unknown): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : '-';
}

function formatText(p: Progress): string {
  switch (p.type) {
    case 'listening':
      return `hsfl-coordinator: run ${p.runId} listening on port ${p.port}; store ${p.db}`;
    case 'round': {
      const test = p.testAccuracy !== undefined ? `  test acc ${pct(p.testAccuracy)}` : '';
      return `round ${Number(p.round) + 1}/${p.rounds}  loss ${Number(p.loss).toFixed(4)}  train acc ${pct(p.trainAccuracy)}${test}  ${Number(p.roundMs).toFixed(0)} ms  devices ${p.devices}`;
    }
    case 'topology':
      return `topology: ${(p.edges as { id: string; devices: string[] }[]).map((e) => `${e.id}[${e.devices.join(', ')}]`).join('  ') || '(no edges)'}`;
    case 'status':
      return `status: ${p.status}`;
    case 'done':
      return `done: ${p.status} after ${p.rounds} rounds, test accuracy ${pct(p.testAccuracy)}; stored in ${p.dbPath} as run ${p.runId}`;
    default:
      return JSON.stringify(p);
  }
}
