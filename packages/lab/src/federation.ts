import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrialConfig } from '@hsfl/cloud-coordinator';
import { ManagedProcess, type ProgressLine } from './process.js';

export function cliPath(pkg: '@hsfl/device' | '@hsfl/edge-aggregator' | '@hsfl/cloud-coordinator'): string {
  return fileURLToPath(import.meta.resolve(`${pkg}/cli`));
}

export interface FederationOptions {
  trial: TrialConfig;
  edges: number;
  devicesPerEdge: number;
  partition: 'iid' | 'dirichlet';
  alpha: number;
  dataSeed: number;
  token: string;
  db: string;
  logDir: string;
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** How long to wait for each process to report ready. */
  readyTimeoutMs?: number;
}

export interface RunDone extends ProgressLine {
  runId: string;
  status: string;
  rounds: number;
  testAccuracy: number;
  testLoss: number;
  dbPath: string;
  wallMs: number;
  plan: Record<string, unknown>;
}

/**
 * A whole federation on this machine: one coordinator, its edges and their
 * devices, each its own OS process talking socket.io over loopback.
 */
export class LocalFederation {
  coordinator?: ManagedProcess;
  readonly edges = new Map<string, { proc: ManagedProcess; port: number }>();
  readonly devices = new Map<string, ManagedProcess>();
  cloudPort = 0;
  runId = '';

  constructor(readonly o: FederationOptions) {
    mkdirSync(o.logDir, { recursive: true });
  }

  get deviceIds(): string[] {
    const ids: string[] = [];
    for (let e = 0; e < this.o.edges; e++) for (let k = 0; k < this.o.devicesPerEdge; k++) ids.push(deviceId(e, k));
    return ids;
  }

  async start(): Promise<void> {
    const t = this.o.trial;
    const timeout = this.o.readyTimeoutMs ?? 60000;
    const common = ['--progress', 'jsonl', '--log-level', this.o.logLevel ?? 'info', '--backend', this.o.backend ?? 'auto'];
    const coordArgs = [
      'serve', '--host', '127.0.0.1', '--port', '0', '--token', this.o.token, '--db', this.o.db,
      '--name', t.name, '--model', t.model, '--c1', String(t.c1), '--c2', String(t.c2), '--i1', String(t.i1), '--i2', String(t.i2),
      '--batch-size', String(t.batchSize), '--lr', String(t.lr), '--rounds', String(t.rounds), '--eval-every', String(t.evalEvery),
      '--seed', String(t.seed), '--deadline-ms', String(t.deadlineMs), '--codec', t.codec,
      '--min-edges', String(this.o.edges), '--min-devices', String(this.o.edges * this.o.devicesPerEdge),
      '--join-timeout-ms', String(t.joinTimeoutMs), ...(t.targetAccuracy ? ['--target-accuracy', String(t.targetAccuracy)] : []),
      '--planner', t.planner, '--warmup-rounds', String(t.warmupRounds), '--replan-threshold', String(t.replanThreshold),
      ...common,
    ];
    this.coordinator = new ManagedProcess('coordinator', cliPath('@hsfl/cloud-coordinator'), coordArgs, join(this.o.logDir, 'coordinator.log'));
    const listening = await this.coordinator.waitFor((m) => m.type === 'listening', timeout, 'listening');
    this.cloudPort = Number(listening.port);
    this.runId = String(listening.runId);
    const edgeReady: Promise<void>[] = [];
    for (let e = 0; e < this.o.edges; e++) {
      const id = `edge-${e}`;
      const proc = new ManagedProcess(id, cliPath('@hsfl/edge-aggregator'), [
        '--cloud', `http://127.0.0.1:${this.cloudPort}`, '--token', this.o.token, '--id', id, '--host', '127.0.0.1', '--port', '0', ...common,
      ], join(this.o.logDir, `${id}.log`));
      edgeReady.push(proc.waitFor((m) => m.type === 'listening', timeout, 'listening').then((m) => {
        this.edges.set(id, { proc, port: Number(m.port) });
      }));
    }
    await Promise.all(edgeReady);
    for (const id of this.deviceIds) this.startDevice(id);
  }

  /** Starts (or restarts) one device process; its data shard follows from its id. */
  startDevice(id: string): ManagedProcess {
    const [e, k] = parseDeviceId(id);
    const edge = this.edges.get(`edge-${e}`);
    if (!edge) throw new Error(`no edge-${e} for ${id}`);
    const shard = e * this.o.devicesPerEdge + k;
    const proc = new ManagedProcess(id, cliPath('@hsfl/device'), [
      '--edge', `http://127.0.0.1:${edge.port}`, '--token', this.o.token, '--id', id,
      '--shard', String(shard), '--shards', String(this.o.edges * this.o.devicesPerEdge),
      '--partition', this.o.partition, '--alpha', String(this.o.alpha), '--data-seed', String(this.o.dataSeed),
      '--progress', 'jsonl', '--log-level', this.o.logLevel ?? 'info', '--backend', this.o.backend ?? 'auto',
    ], join(this.o.logDir, `${id}.log`));
    this.devices.set(id, proc);
    return proc;
  }

  async killDevice(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.devices.get(id);
    if (!p) throw new Error(`no device ${id}`);
    p.child.kill(signal);
    await p.exited;
  }

  /** Resolves with the coordinator's final report. */
  async waitDone(timeoutMs: number): Promise<RunDone> {
    if (!this.coordinator) throw new Error('not started');
    return (await this.coordinator.waitFor((m) => m.type === 'done', timeoutMs, 'the end of the run')) as RunDone;
  }

  onProgress(fn: (m: ProgressLine) => void): void {
    this.coordinator?.on('line', fn);
  }

  async stop(): Promise<void> {
    const all = [...this.devices.values(), ...[...this.edges.values()].map((e) => e.proc), ...(this.coordinator ? [this.coordinator] : [])];
    await Promise.all(all.map((p) => p.kill('SIGTERM')));
  }
}

export function deviceId(edge: number, k: number): string {
  return `device-${edge}-${k}`;
}

function parseDeviceId(id: string): [number, number] {
  const m = /^device-(\d+)-(\d+)$/.exec(id);
  if (!m) throw new Error(`not a lab device id: ${id}`);
  return [Number(m[1]), Number(m[2])];
}
