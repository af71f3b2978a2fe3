import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, deviceId, type FederationOptions, type RunDone } from './federation.js';
import { ManagedProcess, type LaunchPrefix, type ProgressLine } from './process.js';
import { NetLab, type NetLabHostSpec } from './netlab/index.js';
import { LabIdentities } from './lab-pki.js';

/** What makes one emulated node unequal: its link to its parent and its CPU quota (see NetLabHostSpec). */
export type LabNodeSpec = Omit<NetLabHostSpec, 'name'>;

export interface LabFederationOptions extends Omit<FederationOptions, 'edges' | 'devicesPerEdge'> {
  /**
   * The fleet, edge by edge. Every device runs in its own NetLab host
   * `device-<e>-<k>` with the given limits (none: an unlimited link). An edge
   * with `edge` set runs in host `edge-<e>` with those limits (its link to the
   * cloud is shaped, and its devices' traffic then passes both limits); an
   * edge without it runs in the root namespace next to the coordinator.
   */
  fleet: { edge?: LabNodeSpec; devices: LabNodeSpec[] }[];
  /** CFS period of the CPU quotas (NetLabOptions.cpuPeriodUs). */
  cpuPeriodUs?: number;
  /** Extra arguments for `hsfl-coordinator serve`. */
  coordinatorArgs?: string[];
}

/**
 * A whole federation on this machine whose devices (and optionally edges)
 * are emulated unequal hosts: each its own OS process inside a NetLab
 * network namespace behind a rate-limited link, under a CPU quota. The
 * coordinator runs in the root namespace and listens on the lab's bridge
 * address. Needs root (NetLab.available()).
 *
 * Use: `await fed.start()`, `await fed.waitDone(ms)`, and always
 * `await fed.close()` (stops the processes and destroys the lab).
 */
export class LabFederation {
  lab?: NetLab;
  coordinator?: ManagedProcess;
  readonly edges = new Map<string, { proc: ManagedProcess; port: number; address: string }>();
  readonly devices = new Map<string, ManagedProcess>();
  cloudPort = 0;
  runId = '';
  private closed?: Promise<void>;
  /** Every process started, including any that never reported ready. */
  private readonly procs: ManagedProcess[] = [];
  private readonly ids: LabIdentities;

  constructor(readonly o: LabFederationOptions) {
    if (o.fleet.length === 0 || o.fleet.some((e) => e.devices.length === 0)) throw new Error('LabFederation: every edge needs at least one device');
    mkdirSync(o.logDir, { recursive: true });
    this.ids = new LabIdentities(o.db, o.logDir, o.token, (o.security ?? 'tls') === 'tls');
  }

  get deviceIds(): string[] {
    return this.o.fleet.flatMap((e, ei) => e.devices.map((_, k) => deviceId(ei, k)));
  }

  /** The bridge address in the root namespace (where the coordinator listens). */
  get rootAddress(): string {
    return this.requireLab().rootAddress(this.deviceIds[0]!);
  }

  private requireLab(): NetLab {
    if (!this.lab) throw new Error('LabFederation: not started');
    return this.lab;
  }

  private common(): string[] {
    return ['--progress', 'jsonl', '--log-level', this.o.logLevel ?? 'info', '--backend', this.o.backend ?? 'auto'];
  }

  /** `node` as the given lab host: in its namespace and CPU cgroup. */
  private launch(host: string): LaunchPrefix {
    const c = this.requireLab().command(host, process.execPath, []);
    return { command: c.command, argsPrefix: c.args };
  }

  async start(): Promise<void> {
    const hosts: NetLabHostSpec[] = [];
    this.o.fleet.forEach((e, ei) => {
      if (e.edge) hosts.push({ ...e.edge, name: `edge-${ei}` });
      e.devices.forEach((d, k) => hosts.push({ ...d, name: deviceId(ei, k) }));
    });
    this.lab = await NetLab.create({ hosts, cpuPeriodUs: this.o.cpuPeriodUs });
    const t = this.o.trial;
    const timeout = this.o.readyTimeoutMs ?? 60000;
    const root = this.rootAddress;
    const devices = this.deviceIds.length;
    const coordArgs = [
      'serve', '--host', root, '--port', '0', '--db', this.o.db, ...this.ids.coordinatorArgs(),
      '--name', t.name, '--model', t.model, '--c1', String(t.c1), '--c2', String(t.c2), '--i1', String(t.i1), '--i2', String(t.i2),
      '--batch-size', String(t.batchSize), '--lr', String(t.lr), '--rounds', String(t.rounds), '--eval-every', String(t.evalEvery),
      '--seed', String(t.seed), '--deadline-ms', String(t.deadlineMs), '--codec', t.codec,
      '--min-edges', String(this.o.fleet.length), '--min-devices', String(devices),
      '--join-timeout-ms', String(t.joinTimeoutMs), ...(t.targetAccuracy ? ['--target-accuracy', String(t.targetAccuracy)] : []),
      '--planner', t.planner, '--warmup-rounds', String(t.warmupRounds), '--replan-threshold', String(t.replanThreshold),
      ...(this.o.coordinatorArgs ?? []), ...this.common(),
    ];
    this.coordinator = new ManagedProcess('coordinator', cliPath('@hsfl/cloud-coordinator'), coordArgs, join(this.o.logDir, 'coordinator.log'));
    this.procs.push(this.coordinator);
    const listening = await this.coordinator.waitFor((m) => m.type === 'listening', timeout, 'listening');
    this.cloudPort = Number(listening.port);
    this.runId = String(listening.runId);
    const edgeReady: Promise<void>[] = [];
    this.o.fleet.forEach((e, ei) => {
      const id = `edge-${ei}`;
      const inHost = e.edge !== undefined;
      const address = inHost ? this.lab!.address(id) : root;
      const proc = new ManagedProcess(id, cliPath('@hsfl/edge-aggregator'), [
        ...this.ids.nodeArgs({ id, role: 'edge' }, `${root}:${this.cloudPort}`), '--host', address, '--port', '0', ...this.common(),
      ], join(this.o.logDir, `${id}.log`), {}, inHost ? this.launch(id) : undefined);
      this.procs.push(proc);
      edgeReady.push(proc.waitFor((m) => m.type === 'listening', timeout, 'listening').then((m) => {
        this.edges.set(id, { proc, port: Number(m.port), address });
      }));
    });
    await Promise.all(edgeReady);
    for (const id of this.deviceIds) this.startDevice(id);
  }

  /** Starts (or restarts) one device process in its host; its data shard follows from its position in the fleet. */
  startDevice(id: string): ManagedProcess {
    const shard = this.deviceIds.indexOf(id);
    if (shard < 0) throw new Error(`no device ${id} in the fleet`);
    const e = Number(/^device-(\d+)-/.exec(id)![1]);
    const edge = this.edges.get(`edge-${e}`);
    if (!edge) throw new Error(`no edge-${e} for ${id}`);
    const proc = new ManagedProcess(id, cliPath('@hsfl/device'), [
      ...this.ids.nodeArgs({ id, role: 'device', edge: `edge-${e}` }, `${edge.address}:${edge.port}`),
      '--shard', String(shard), '--shards', String(this.deviceIds.length),
      '--partition', this.o.partition, '--alpha', String(this.o.alpha), '--data-seed', String(this.o.dataSeed),
      ...this.common(),
    ], join(this.o.logDir, `${id}.log`), {}, this.launch(id));
    this.devices.set(id, proc);
    this.procs.push(proc);
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

  /** Stops every process (the lab stays). */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGTERM')));
  }

  /** Stops every process and destroys the lab; safe to call more than once, and after a failed start. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      try {
        await this.stop();
      } finally {
        if (this.lab && !this.lab.destroyed) await this.lab.destroy();
      }
    })();
    return this.closed;
  }
}

/** What `meanRoundMsOverCycles` reads of a stored round (RoundMetrics has these fields). */
export interface RoundTime {
  round: number;
  planVersion: number;
  roundMs: number;
}

/**
 * Mean measured round time of one plan, over whole aggregation cycles: the
 * rounds of plan version `planVersion` (applied at round `appliedAt`, intervals
 * i1, i2), without the first `skip` rounds under it and without the run's last
 * round (forced to sync), starting at a cycle boundary and cut to a whole
 * number of cycles of lcm(i1, i2) rounds, since sync rounds are longer (and a
 * device-sync round's download lands in the next round). Undefined when not
 * one whole cycle is left.
 */
export function meanRoundMsOverCycles(
  metrics: readonly RoundTime[],
  plan: { planVersion: number; appliedAt: number; i1: number; i2: number },
  skip = 0,
): { meanMs: number; rounds: number; first: number; last: number } | undefined {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const cycle = (plan.i1 * plan.i2) / gcd(plan.i1, plan.i2);
  const lastRound = metrics.reduce((m, r) => Math.max(m, r.round), -1);
  // Plan-relative round k = round - appliedAt + 1; a cycle starts where (k - 1) % cycle === 0.
  const mine = metrics.filter((r) => r.planVersion === plan.planVersion && r.round !== lastRound && r.round - plan.appliedAt >= skip);
  let start = mine.findIndex((r) => (r.round - plan.appliedAt) % cycle === 0);
  if (start < 0) return undefined;
  const body = mine.slice(start);
  // Only consecutive rounds (a gap would break the cycle alignment).
  let n = 1;
  while (n < body.length && body[n]!.round === body[n - 1]!.round + 1) n++;
  const whole = Math.floor(n / cycle) * cycle;
  if (whole === 0) return undefined;
  const used = body.slice(0, whole);
  start = used[0]!.round;
  return { meanMs: used.reduce((a, r) => a + r.roundMs, 0) / whole, rounds: whole, first: start, last: used[whole - 1]!.round };
}
