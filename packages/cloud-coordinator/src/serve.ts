import { hostname } from 'node:os';
import { initBackend, loadMnist, modelInfo, syntheticDataset, type Dataset } from '@hsfl/runtime';
import type { RoundResult } from './coordinator.js';
import { serveCoordinator, generateToken, tokenProblems, TrustedProxies } from './api/index.js';
import { checkRateLimits } from './api/guard.js';
import { Store } from './store/index.js';
import { trialProblems, type TrialConfig } from './config.js';
import { createLogger } from './log.js';
import { markRunFailed } from './fail-run.js';
import { INSECURE_WARNING, type LinkLimits } from '@hsfl/tier-engine';
import { ProjectCa, serverCredential, defaultServerHosts } from './pki/index.js';
import type { CoordinatorPki } from './enrollment.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** The shared join token edges present: --insecure only. */
  token?: string;
  /** Plain http and a shared token instead of TLS and enrolled nodes (trusted loopback or lab only). */
  insecure: boolean;
  /** Where the project CA and the coordinator's certificate live (created on first start). */
  pkiDir: string;
  /** Further host names / addresses for the coordinator's certificate (what browsers and edges dial). */
  san: string[];
  db: string;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  progress: 'text' | 'jsonl' | 'none';
  logLevel: string;
  /** Start a run from `trial` at once. */
  start: boolean;
  /** Keep serving after that run ends (for the API and dashboard). */
  stay: boolean;
  /** Resume a run a previous coordinator left running on this store (else mark it failed). */
  resume: boolean;
  trial: TrialConfig;
  /** Operator tokens for the API and dashboard (admin: control, viewer: read-only); generated when absent. */
  adminToken?: string;
  viewerToken?: string;
  /** Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (ApiOptions.trustedProxy). */
  trustedProxy?: string[];
  /** Requests per minute per client address (ApiOptions.rateLimit). */
  rateLimit?: { perMinute?: number; loginPerMinute?: number };
  /** Edge port: most edges, hello timeout, per-address limits (CoordinatorOptions). */
  maxEdges?: number;
  helloTimeoutMs?: number;
  linkLimits?: Partial<LinkLimits>;
}

type Progress = Record<string, unknown> & { type: string };

/** Event kinds echoed on stdout as they happen. */
const CONSOLE_EVENTS: ReadonlySet<string> = new Set(['device_refused', 'empty_round', 'node_revoked']);

/**
 * Held-out data for a zoo model: the MNIST test split for 28x28x1 models;
 * for other input shapes (no data set can be downloaded here) a seeded
 * synthetic set, which the docs say plainly.
 */
export function testDataFor(model: string): Dataset {
  const info = modelInfo(model);
  if (info.inputShape.join('x') === '28x28x1') return loadMnist().test;
  return syntheticDataset(info.inputShape, info.numClasses, 1000, 4242);
}

/** Runs the coordinator process, with progress on stdout. */
export async function serve(o: ServeOptions): Promise<number> {
  const log = createLogger('hsfl-coordinator', o.logLevel);
  if (o.start) {
    const problems = trialProblems(o.trial, modelInfo(o.trial.model).numUnits);
    if (problems.length) throw new Error(`bad trial configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const adminToken = o.adminToken || generateToken();
  const viewerToken = o.viewerToken || generateToken();
  const tokenIssues = [...tokenProblems('--admin-token', adminToken), ...tokenProblems('--viewer-token', viewerToken)];
  if (adminToken === viewerToken) tokenIssues.push('--admin-token and --viewer-token must differ');
  if (tokenIssues.length) throw new Error(`bad operator tokens:\n  - ${tokenIssues.join('\n  - ')}`);
  // Checked before anything starts, so that a typo is one clear line.
  try {
    new TrustedProxies(o.trustedProxy ?? []);
  } catch (err) {
    throw new Error(`bad --trusted-proxy: ${(err as Error).message}`);
  }
  checkRateLimits({ '--api-rate-limit': o.rateLimit?.perMinute ?? 1, '--login-rate-limit': o.rateLimit?.loginPerMinute ?? 1 });
  const pki = coordinatorPki(o, log);
  const backend = await initBackend({ preferred: o.backend });
  log.info({ backend }, 'backend ready');
  const store = Store.open(o.db);
  const out = (p: Progress) => {
    if (o.progress === 'jsonl') process.stdout.write(JSON.stringify(p) + '\n');
    else if (o.progress === 'text') process.stdout.write(formatText(p) + '\n');
  };
  let run: ReturnType<Store['createRun']> | undefined;
  let resumeId: string | undefined;
  // One port for everything: the edges' socket.io, the REST API, the dashboard and /metrics.
  const served = await serveCoordinator({
    bindHost: o.host, port: o.port, token: o.token ?? '', pki, store, testData: testDataFor, log, backend: backend.name, adminToken, viewerToken,
    trustedProxy: o.trustedProxy, rateLimit: o.rateLimit, tls: pki !== undefined,
    maxEdges: o.maxEdges, helloTimeoutMs: o.helloTimeoutMs, linkLimits: o.linkLimits,
    beforeListen: (coord) => {
      coord.on('round', (r: RoundResult & { testAccuracy?: number; wallMs: number; rounds: number }) => out({ type: 'round', ...r }));
      coord.on('topology', (edges) => out({ type: 'topology', edges }));
      coord.on('status', (s) => out({ type: 'status', ...s }));
      coord.on('plan', (plan) => out({ type: 'plan', plan }));
      // What an operator at the console must see without opening the dashboard.
      coord.on('event', (e: { kind: string; level: string; message: string; nodeId: string | null }) => {
        if (CONSOLE_EVENTS.has(e.kind)) out({ type: 'event', kind: e.kind, level: e.level, nodeId: e.nodeId, message: e.message });
      });
      const interrupted = store.interruptedRuns();
      for (const r of interrupted.slice(0, -1)) markRunFailed(store, r.id, 'superseded by a later interrupted run', 'hsfl-coordinator serve');
      const last = interrupted[interrupted.length - 1];
      if (last && o.resume) resumeId = last.id;
      else if (last) markRunFailed(store, last.id, 'not resumed (--no-resume)', 'hsfl-coordinator serve');
      run = o.start && !resumeId ? coord.createRun(o.trial) : undefined;
    },
  }).catch((err: unknown) => {
    store.close();
    throw err;
  });
  const coord = served.coordinator;
  const port = served.port;
  out({
    type: 'listening', port, runId: run?.id ?? resumeId, resuming: resumeId !== undefined, db: store.path, host: hostname(), backend: backend.name,
    dashboard: served.url, tls: pki !== undefined, caFingerprint: pki?.ca.fingerprint, pkiDir: pki?.ca.dir, adminToken, viewerToken, tokensGenerated: { admin: !o.adminToken, viewer: !o.viewerToken },
  });
  // SIGTERM or SIGINT: close (the run in progress stays resumable from its
  // last checkpoint, and edges keep reconnecting); a second signal, or
  // closing taking longer than a few seconds, exits at once.
  let signalled = false;
  const finished = new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      if (signalled) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      log.info({ signal, runId: coord.runId, round: coord.currentRound }, coord.runId ? `stopping: run ${coord.runId} is interrupted at round ${coord.currentRound} and resumes from its checkpoint on the next start` : 'stopping');
      setTimeout(() => {
        log.error({}, 'shutdown took too long; exiting');
        process.exit(1);
      }, 5000).unref();
      void served.close().then(resolve, resolve);
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });
  let code = 0;
  try {
    const id = resumeId ?? run?.id;
    if (id) {
      const summary = resumeId ? await coord.resumeRun(resumeId) : await coord.startRun(id);
      out({ type: 'done', ...summary });
      code = summary.status === 'completed' ? 0 : summary.status === 'interrupted' ? 143 : 2;
    }
    if (!signalled && (!id || o.stay)) await finished;
    return code;
  } finally {
    // Bounded: a connection that will not close must not keep a stopping coordinator alive.
    await Promise.race([served.close(), new Promise((r) => setTimeout(r, 2000).unref())]);
    store.close();
    // Stopped by a signal: nodes are reconnecting to a server that is going; do not linger for them.
    if (signalled) process.exit(code);
  }
}

/**
 * TLS unless --insecure: the project CA (made on first start) and the
 * coordinator's certificate for the names it is reached by.
 */
function coordinatorPki(o: ServeOptions, log: ReturnType<typeof createLogger>): CoordinatorPki | undefined {
  if (o.insecure) {
    if (!o.token) throw new Error('--insecure needs --token (the join token edges present)');
    log.warn({}, INSECURE_WARNING);
    return undefined;
  }
  if (o.token !== undefined) throw new Error('--token is for --insecure only: with TLS, nodes prove their ids with enrolled certificates (hsfl-coordinator enroll)');
  const ca = ProjectCa.loadOrCreate(o.pkiDir);
  if (ca.created) log.warn({ pkiDir: ca.dir, fingerprint: ca.fingerprint }, 'created the project CA; keep ca.key secret and backed up (docs/security.md)');
  const hosts = defaultServerHosts(o.san, o.host);
  const credential = serverCredential(ca, hosts);
  if (credential.reissued) log.info({ hosts }, 'issued the coordinator\'s TLS certificate');
  return { ca, credential };
}

function pct(x: unknown): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : '-';
}

function formatText(p: Progress): string {
  switch (p.type) {
    case 'listening': {
      const gen = (p.tokensGenerated ?? {}) as { admin?: boolean; viewer?: boolean };
      return [
        `hsfl-coordinator: listening on port ${p.port}${p.runId ? `, run ${p.runId}` : ''}; store ${p.db}`,
        `dashboard: ${p.dashboard}`,
        p.tls ? `links: TLS under the project CA in ${p.pkiDir} (fingerprint ${String(p.caFingerprint).slice(0, 23)}...)` : 'links: INSECURE plain http (--insecure)',
        `admin token: ${gen.admin ? p.adminToken : '(as given)'}   viewer token: ${gen.viewer ? p.viewerToken : '(as given)'}`,
      ].join('\n');
    }
    case 'round': {
      const test = p.testAccuracy !== undefined ? `  test acc ${pct(p.testAccuracy)}` : '';
      return `round ${Number(p.round) + 1}/${p.rounds}  loss ${Number(p.loss).toFixed(4)}  train acc ${pct(p.trainAccuracy)}${test}  ${Number(p.roundMs).toFixed(0)} ms  devices ${p.devices}`;
    }
    case 'topology':
      return `topology: ${(p.edges as { id: string; devices: { id: string }[] }[]).map((e) => `${e.id}[${e.devices.map((d) => d.id).join(', ')}]`).join('  ') || '(no edges)'}`;
    case 'status':
      return `run ${p.runId}: ${p.status}`;
    case 'plan': {
      const plan = p.plan as Record<string, unknown>;
      return `plan v${plan.version}: cuts (${plan.c1}, ${plan.c2}), intervals (${plan.i1}, ${plan.i2})`;
    }
    case 'event':
      return `${p.level === 'warn' || p.level === 'error' ? 'warning: ' : ''}${p.message}`;
    case 'done':
      return `done: ${p.status} after ${p.rounds} rounds, test accuracy ${pct(p.testAccuracy)}; stored in ${p.dbPath} as run ${p.runId}`;
    default:
      return JSON.stringify(p);
  }
}
