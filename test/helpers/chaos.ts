// The chaos suite's harness: a federation of real OS processes, a fault
// schedule run against it, and the invariants every schedule must leave
// intact (DESIGN §2, "Faults"). A schedule never throws half-way: every step
// that does not happen as it should is recorded as a problem (the symptom
// the role engineers need), the run is driven to its end where it can be,
// the invariants are checked, and only then does the test fail, listing
// them all. Every process is ended (whole process groups) whatever happens.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LabFederation, LocalFederation, type ManagedProcess, type ProgressLine } from '@hsfl/lab';
import { DEFAULT_TRIAL, Store, type TrialConfig } from '@hsfl/cloud-coordinator';

/**
 * The configuration every schedule runs (and the baseline, once): small and
 * fast (mlp-mnist, ~50-70 ms a round on 2 cores), a short deadline so that a
 * stopped node is counted late quickly.
 */
export const CHAOS_TRIAL: TrialConfig = {
  ...DEFAULT_TRIAL,
  name: 'chaos',
  model: 'mlp-mnist',
  c1: 2,
  c2: 3,
  i1: 2,
  i2: 2,
  batchSize: 64,
  lr: 0.1,
  rounds: 300,
  evalEvery: 0,
  seed: 1,
  deadlineMs: 3000,
  joinTimeoutMs: 60000,
};
export const EDGES = 2;
export const DEVICES_PER_EDGE = 2;
export const NODES = 1 + EDGES + EDGES * DEVICES_PER_EDGE;
/** Final test accuracy must be within this of the fault-free run. */
export const ACCURACY_TOLERANCE = 0.01;
/** Faults are injected once the coordinator reports this round. */
export const FAULT_AT_ROUND = 20;
/** A SIGTERMed node must end within this. */
export const TERM_GRACE_MS = 5000;
/** How long a deliberate outage (SIGSTOP, link down) lasts: longer than the round deadline (and than the cloud's 1.5x). */
export const OUTAGE_MS = CHAOS_TRIAL.deadlineMs + 2000;
/** How long to wait for one expected step of a schedule (a node leaving, rejoining...). */
export const STEP_TIMEOUT_MS = 25000;
/** The run fails as stalled when the coordinator reports no round for this long. */
export const STALL_MS = 30000;

export interface Topo {
  edges: { id: string; devices: { id: string }[] }[];
}
export type RoundLine = ProgressLine & { round: number; runId: string; devices: number; lateDevices: number; testAccuracy?: number };

/** Every process group this file started and has not seen end: killed on exit, whatever ends the test process. */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Pids of running (not zombie) processes whose pid or process group is one of `pids`. */
export function survivors(pids: readonly number[]): { pid: number; comm: string }[] {
  const want = new Set(pids);
  const out: { pid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, , pgrp] = stat.slice(close + 2).split(' ');
    if (state === 'Z' || state === 'X') continue;
    const pid = Number(name);
    if (want.has(pid) || want.has(Number(pgrp))) out.push({ pid, comm });
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Outcome {
  schedule: string;
  completedRounds: number;
  rounds: number;
  accuracy: number;
  baseline: number;
  rolledBack: number;
  nodesBack: number;
  leftBehind: number;
  wallMs: number;
  problems: string[];
}

export function outcomeLine(o: Outcome): string {
  const acc = Number.isFinite(o.accuracy) ? o.accuracy.toFixed(4) : '-';
  const head =
    `chaos: ${o.schedule}: completed ${o.completedRounds}/${o.rounds} rounds, acc ${acc} (baseline ${o.baseline.toFixed(4)}), ` +
    `rolled back ${o.rolledBack} rounds, ${o.nodesBack}/${NODES} nodes back, ${o.leftBehind} left behind (${(o.wallMs / 1000).toFixed(1)} s)`;
  return o.problems.length ? `${head}\n${o.problems.map((p) => `      FAIL ${p}`).join('\n')}` : head;
}

/** Either federation: what a schedule needs of it. */
type AnyFed = LocalFederation | LabFederation;

/**
 * One schedule's run: the federation, what its coordinators reported, and
 * the problems found so far.
 */
export class ChaosRun {
  readonly dir: string;
  readonly db: string;
  readonly problems: string[] = [];
  /** Every round line of every coordinator incarnation, in order. */
  readonly rounds: RoundLine[] = [];
  lastTopology?: Topo;
  /** The topology when the run's end was reported (the coordinator's later lines show nodes leaving as it shuts down). */
  private topologyAtDone?: Topo;
  /** Processes the harness signalled on purpose (their exits are expected). */
  private readonly expectedExit = new Set<ManagedProcess>();
  private readonly watched = new Set<ManagedProcess>();
  private doneLine?: ProgressLine;
  /** Set once the harness stops everything: exits from then on are its own doing. */
  private stopping = false;
  private lastRoundAt = Date.now();
  private readonly progressWaiters = new Set<() => void>();
  fed!: AnyFed;

  constructor(readonly schedule: string) {
    this.dir = mkdtempSync(join(tmpdir(), `hsfl-chaos-${schedule.replace(/[^a-z0-9]+/gi, '-')}-`));
    this.db = join(this.dir, 'hsfl.sqlite');
  }

  local(trial: TrialConfig = CHAOS_TRIAL): LocalFederation {
    const fed = new LocalFederation({
      trial, edges: EDGES, devicesPerEdge: DEVICES_PER_EDGE, partition: 'iid', alpha: 1, dataSeed: 1, token: 'chaos-token',
      db: this.db, logDir: join(this.dir, 'logs'), logLevel: 'warn', processGroups: true, readyTimeoutMs: 60000,
    });
    this.fed = fed;
    return fed;
  }

  lab(trial: TrialConfig = CHAOS_TRIAL): LabFederation {
    const fed = new LabFederation({
      trial, fleet: Array.from({ length: EDGES }, () => ({ devices: Array.from({ length: DEVICES_PER_EDGE }, () => ({})) })),
      partition: 'iid', alpha: 1, dataSeed: 1, token: 'chaos-token', db: this.db, logDir: join(this.dir, 'logs'), logLevel: 'warn', readyTimeoutMs: 60000,
    });
    this.fed = fed;
    return fed;
  }

  /** Every process the federation runs now (the current incarnation of each node). */
  current(): ManagedProcess[] {
    const f = this.fed;
    return [...(f.coordinator ? [f.coordinator] : []), ...[...f.edges.values()].map((e) => e.proc), ...f.devices.values()];
  }

  /** Every process started (earlier incarnations included). */
  all(): ManagedProcess[] {
    const f = this.fed;
    if (f instanceof LocalFederation) return [...f.started];
    return [...this.watched, ...this.current()];
  }

  /** Starts watching new processes: coordinator lines, exits nobody asked for. */
  watch(): void {
    for (const p of this.current()) {
      if (this.watched.has(p)) continue;
      this.watched.add(p);
      if (p.processGroup && p.pid) liveGroups.add(p.pid);
      void p.exited.then((code) => {
        if (p.pid) liveGroups.delete(p.pid);
        if (this.expectedExit.has(p) || this.doneLine || this.stopping) return;
        this.problems.push(`${p.name} exited on its own (code ${code}) at round ${this.lastRound()}`);
        this.wakeWaiters();
      });
      if (p === this.fed.coordinator) {
        // A new incarnation: an end an earlier one reported (e.g. 'stopped' on SIGTERM) is not the run's end.
        this.doneLine = undefined;
        this.topologyAtDone = undefined;
        p.on('line', (m: ProgressLine) => {
          if (m.type === 'round') {
            this.rounds.push(m as RoundLine);
            this.lastRoundAt = Date.now();
          } else if (m.type === 'topology') this.lastTopology = { edges: m.edges as Topo['edges'] };
          else if (m.type === 'done') {
            this.doneLine = m;
            this.topologyAtDone = this.lastTopology;
          }
          this.wakeWaiters();
        });
      }
    }
  }

  private wakeWaiters(): void {
    for (const w of [...this.progressWaiters]) w();
  }

  lastRound(): number {
    return this.rounds.length ? this.rounds[this.rounds.length - 1]!.round : -1;
  }

  /** Marks a process as signalled on purpose and sends the signal (to its group where it has one). */
  signal(p: ManagedProcess, sig: NodeJS.Signals): void {
    if (sig !== 'SIGSTOP' && sig !== 'SIGCONT') this.expectedExit.add(p);
    if (p.processGroup) p.signal(sig);
    else p.child.kill(sig);
  }

  /** SIGKILLs a node and waits for it to end. */
  async crash(p: ManagedProcess): Promise<void> {
    this.signal(p, 'SIGKILL');
    await p.exited;
  }

  /** SIGTERMs a node; records a problem when it does not end within TERM_GRACE_MS (then SIGKILLs it). */
  async terminate(p: ManagedProcess): Promise<number> {
    const t0 = Date.now();
    this.signal(p, 'SIGTERM');
    const ended = await Promise.race([p.exited.then(() => true), sleep(TERM_GRACE_MS).then(() => false)]);
    if (!ended) {
      this.problems.push(`${p.name} did not end within ${TERM_GRACE_MS} ms of SIGTERM`);
      this.signal(p, 'SIGKILL');
      await p.exited;
    }
    return Date.now() - t0;
  }

  /**
   * Waits until `pred` holds over what the coordinator reported (re-checked
   * on every coordinator line and process exit). On timeout it records
   * `what` as a problem and resolves false; it never throws.
   */
  async until(what: string, pred: () => boolean, timeoutMs = STEP_TIMEOUT_MS): Promise<boolean> {
    if (pred()) return true;
    return new Promise((resolve) => {
      const check = () => {
        if (!pred()) return;
        finish(true);
      };
      const timer = setTimeout(() => {
        this.problems.push(`no ${what} within ${timeoutMs} ms (last round ${this.lastRound()})`);
        finish(false);
      }, timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.progressWaiters.delete(check);
        resolve(ok);
      };
      this.progressWaiters.add(check);
    });
  }

  /** The round index at which the schedule injects its fault (FAULT_AT_ROUND reached). */
  async faultPoint(): Promise<boolean> {
    return this.until(`round ${FAULT_AT_ROUND}`, () => this.lastRound() >= FAULT_AT_ROUND, 90000);
  }

  /** Rounds reported after index `i` of `rounds`. */
  roundsSince(i: number): RoundLine[] {
    return this.rounds.slice(i);
  }

  /** A round with every device, reported after the first `since` round lines. */
  async allBack(since: number, what = 'round with all 4 devices'): Promise<boolean> {
    const n = EDGES * DEVICES_PER_EDGE;
    return this.until(what, () => this.roundsSince(since).some((r) => r.devices === n && r.lateDevices === 0));
  }

  topologyHas(edges: number, devices: number, t = this.lastTopology): boolean {
    return !!t && t.edges.length === edges && t.edges.reduce((a, e) => a + e.devices.length, 0) === devices;
  }

  /**
   * Waits for the end of the run, failing it as stalled when the coordinator
   * reports no round for STALL_MS (edges idle forever, a lost barrier...).
   */
  async runEnd(totalMs = 240000): Promise<ProgressLine | undefined> {
    const t0 = Date.now();
    this.lastRoundAt = Math.max(this.lastRoundAt, Date.now());
    while (!this.doneLine) {
      const coord = this.fed.coordinator;
      if (coord && !coord.alive) {
        this.problems.push(`the coordinator exited (code ${coord.exitCode}) without reporting the end of the run (last round ${this.lastRound()})`);
        return undefined;
      }
      if (Date.now() - this.lastRoundAt > STALL_MS) {
        this.problems.push(`the run stalled: no round for ${STALL_MS} ms after round ${this.lastRound()}`);
        return undefined;
      }
      if (Date.now() - t0 > totalMs) {
        this.problems.push(`the run did not end within ${totalMs} ms (last round ${this.lastRound()})`);
        return undefined;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.progressWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, 1000);
        this.progressWaiters.add(wake);
      });
    }
    return this.doneLine;
  }

  /**
   * The invariants, once the run has ended (or failed to): completed, the
   * same run id throughout, accuracy within a point of the baseline, a sound
   * store with every round stored once and one run, every node back. Then it
   * stops every process and checks none is left behind.
   */
  async finish(firstRunId: string, baseline: number, t0: number): Promise<Outcome> {
    const R = CHAOS_TRIAL.rounds;
    const done = this.doneLine;
    const problems = this.problems;
    let accuracy = NaN;
    let completedRounds = 0;
    if (done) {
      accuracy = Number(done.testAccuracy);
      if (done.status !== 'completed') problems.push(`the run ended ${String(done.status)}, not completed`);
      if (done.runId !== firstRunId) problems.push(`the run that ended is ${String(done.runId)}, not the interrupted run ${firstRunId}`);
      if (Math.abs(accuracy - baseline) > ACCURACY_TOLERANCE) {
        problems.push(`final test accuracy ${accuracy.toFixed(4)} is more than ${ACCURACY_TOLERANCE} from the fault-free ${baseline.toFixed(4)}`);
      }
    }
    // Nodes back: judged at the end of the run, before anything is stopped.
    const n = EDGES * DEVICES_PER_EDGE;
    const topo = this.topologyAtDone ?? this.lastTopology;
    const topoEdges = topo?.edges.length ?? 0;
    const topoDevices = topo?.edges.reduce((a, e) => a + e.devices.length, 0) ?? 0;
    let nodesBack = (done && done.runId === firstRunId ? 1 : 0) + Math.min(topoEdges, EDGES) + Math.min(topoDevices, n);
    if (!this.topologyHas(EDGES, n, topo)) problems.push(`the last topology has ${topoEdges} edges / ${topoDevices} devices, not ${EDGES} / ${n}`);
    const gone = this.current().filter((p) => p !== this.fed.coordinator && !p.alive);
    if (gone.length) {
      problems.push(`not running at the end: ${gone.map((p) => `${p.name} (exit ${p.exitCode})`).join(', ')}`);
      nodesBack = Math.min(nodesBack, NODES - gone.length);
    }
    // Rolled back: round indices of the run reported more than once (re-run after a resume).
    const seen = new Map<number, number>();
    for (const r of this.rounds) if (r.runId === firstRunId) seen.set(r.round, (seen.get(r.round) ?? 0) + 1);
    const rolledBack = [...seen.values()].filter((c) => c > 1).length;

    // Stop everything, then look for survivors (pids and their process groups).
    const pids = this.all().map((p) => p.pid).filter((p): p is number => p !== undefined);
    this.stopping = true;
    await (this.fed instanceof LabFederation ? this.fed.close() : this.fed.stop());
    const left = survivors(pids);
    if (left.length) {
      problems.push(`left behind after stop(): ${left.map((l) => `${l.pid} ${l.comm}`).join(', ')}`);
      for (const l of left) {
        try {
          process.kill(l.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }

    // The store, once nothing writes to it.
    try {
      const raw = new Database(this.db, { readonly: true });
      try {
        const ic = raw.pragma('integrity_check', { simple: true });
        if (ic !== 'ok') problems.push(`PRAGMA integrity_check: ${String(ic)}`);
      } finally {
        raw.close();
      }
      const store = Store.open(this.db);
      try {
        const runs = store.listRuns({ limit: 100 });
        if (runs.length !== 1) problems.push(`the store has ${runs.length} runs (${runs.map((r) => `${r.id} ${r.status}`).join(', ')}), not 1`);
        const run = store.getRun(firstRunId);
        if (!run) problems.push(`run ${firstRunId} is not in the store`);
        else if (run.status !== 'completed') problems.push(`run ${firstRunId} is stored as ${run.status}, not completed`);
        const metrics = run ? store.listRoundMetrics(firstRunId, { limit: 100000 }) : [];
        const count = new Map<number, number>();
        for (const m of metrics) count.set(m.round, (count.get(m.round) ?? 0) + 1);
        const missing = Array.from({ length: R }, (_, i) => i).filter((i) => !count.has(i));
        const twice = [...count].filter(([, c]) => c > 1).map(([r]) => r);
        const extra = [...count.keys()].filter((r) => r < 0 || r >= R);
        completedRounds = Array.from({ length: R }, (_, i) => i).filter((i) => count.get(i) === 1).length;
        if (missing.length) problems.push(`round_metrics lacks ${missing.length} rounds: ${ranges(missing)}`);
        if (twice.length) problems.push(`round_metrics has rounds stored more than once: ${ranges(twice)}`);
        if (extra.length) problems.push(`round_metrics has rounds outside 0..${R - 1}: ${ranges(extra)}`);
        const tail = metrics.filter((m) => m.round >= R - 3);
        if (tail.length && tail.some((m) => m.devices !== n)) {
          problems.push(`the last rounds lack devices: ${tail.map((m) => `round ${m.round}: ${m.devices} devices`).join(', ')}`);
        }
      } finally {
        store.close();
      }
    } catch (err) {
      problems.push(`cannot inspect the store: ${(err as Error).message}`);
    }
    return {
      schedule: this.schedule, completedRounds, rounds: R, accuracy, baseline, rolledBack, nodesBack, leftBehind: left.length,
      wallMs: Date.now() - t0, problems,
    };
  }

  /** Ends every process (whatever state the schedule left) and removes the files unless `keep`. */
  async cleanup(keep: boolean): Promise<void> {
    this.stopping = true;
    try {
      await (this.fed instanceof LabFederation ? this.fed.close() : this.fed?.stop());
    } finally {
      for (const p of this.all()) {
        if (p.processGroup) p.signal('SIGKILL');
        else if (p.alive) p.child.kill('SIGKILL');
      }
      if (keep) console.log(`      logs and store kept in ${this.dir}`);
      else rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function ranges(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/**
 * Runs one schedule: starts the federation, runs `faults` (which drives the
 * run past its faults), waits for the end, checks the invariants, prints the
 * outcome line and cleans up. Resolves with the outcome; the caller asserts.
 */
export async function runSchedule(
  schedule: string,
  baseline: number,
  faults: (c: ChaosRun, firstRunId: string) => Promise<void>,
  kind: 'local' | 'lab' = 'local',
): Promise<Outcome> {
  const c = new ChaosRun(schedule);
  const t0 = Date.now();
  let outcome: Outcome | undefined;
  try {
    const fed = kind === 'local' ? c.local() : c.lab();
    await fed.start();
    c.watch();
    const runId = fed.runId;
    try {
      await faults(c, runId);
    } catch (err) {
      c.problems.push(`the schedule itself failed: ${(err as Error).message}`);
    }
    c.watch();
    await c.runEnd();
    outcome = await c.finish(runId, baseline, t0);
    console.log(`      ${outcomeLine(outcome)}`);
    return outcome;
  } finally {
    await c.cleanup(!outcome || outcome.problems.length > 0);
  }
}

/** The fault-free run: its final test accuracy (it must complete). */
export async function runBaseline(): Promise<number> {
  const o = await runSchedule('baseline (no faults)', NaN, async () => {});
  const bad = o.problems.filter((p) => !p.startsWith('final test accuracy'));
  if (bad.length) throw new Error(`the fault-free baseline failed:\n${bad.join('\n')}`);
  return o.accuracy;
}

/** Why the network-namespace schedule cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need root)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'no iproute2 (`ip` not found)';
  }
  return undefined;
}

/** The root-namespace end of a lab host's veth (found by its alias `<lab id>/<host>`). */
export function rootVeth(lab: { id: string }, host: string): string {
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string; ifalias?: string }[];
  const link = links.find((l) => l.ifalias === `${lab.id}/${host}`);
  if (!link) throw new Error(`no veth with alias ${lab.id}/${host}`);
  return link.ifname;
}

export function setLink(ifname: string, state: 'up' | 'down'): void {
  execFileSync('ip', ['link', 'set', 'dev', ifname, state]);
}

export { sleep };
