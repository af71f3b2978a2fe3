import { spawn as spawnChild, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CpuCgroups, cgroupPids, detectCpuCgroup, removeCgroupTree } from './cgroup.js';
import { track, untrack } from './cleanup.js';
import { cmd, driveAsync, driveSync, IP, killQuiet, must, pidAlive, run, SH, sleep, TC, type Steps } from './ops.js';
import { intToIp, listLocks, ownerPid, pickSubnet, releaseLock } from './subnet.js';
import { nextLabNumber, probeSupport } from './support.js';

/** One emulated host: a network namespace behind a rate-limited link, optionally CPU-limited. */
export interface NetLabHostSpec {
  /** Unique within the lab; [A-Za-z0-9_.-], at most 32 characters. */
  name: string;
  /** Rate limit host -> root namespace (the host's upload), in Mbit/s (10^6 bit/s). Unlimited if omitted. */
  upMbit?: number;
  /** Rate limit root namespace -> host (the host's download), in Mbit/s. Unlimited if omitted. */
  downMbit?: number;
  /** One-way delay added in EACH direction with netem (RTT grows by 2 x delayMs). Needs sch_netem. */
  delayMs?: number;
  /** CPU quota as a fraction of one core (0.25 = a quarter core; 2 = two cores). Unlimited if omitted. */
  cpuFraction?: number;
  /** tbf bucket size in KiB. Default: max(6 KiB, 10 ms worth of the rate). */
  burstKb?: number;
  /** tbf queue length, as the longest time a packet may wait for tokens. Default 50 ms. */
  latencyMs?: number;
}

export interface NetLabOptions {
  hosts: NetLabHostSpec[];
  /** A private a.b.c.0/24 to use; by default a free one in 10.200-254.x.0/24 is picked. */
  subnet?: string;
  /** Fail instead of warning when delayMs is set but netem is unavailable. */
  requireDelay?: boolean;
  /** CFS period for the CPU quota, in microseconds. Default 20000 (20 ms). */
  cpuPeriodUs?: number;
  /** Receives warnings (e.g. delay not emulated). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

export interface NetLabSpawnOptions extends SpawnOptions {
  /** Put the process into the host's CPU cgroup (when the host has cpuFraction). Default true. */
  cpu?: boolean;
}

export interface NetLabSupport {
  ok: boolean;
  /** Why the lab cannot run here (when !ok). */
  why?: string;
  /** Whether netem (delayMs) works on this kernel. */
  netem: boolean;
  /** cgroup version used for CPU quotas, if any. */
  cgroup?: 1 | 2;
  /** Why CPU quotas are unavailable (reported even when not required). */
  cpuWhy?: string;
}

export interface SweepReport {
  namespaces: string[];
  links: string[];
  cgroups: string[];
  locks: string[];
  /** Objects left alone because the run that created them is still alive. */
  skipped: string[];
  errors: string[];
}

interface Host {
  spec: NetLabHostSpec;
  index: number;
  ns: string;
  veth: string;
  address: string;
  nsCreated: boolean;
  vethCreated: boolean;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
/** Names this module creates: hsfl-<pid>-<n>[-...]. Sweep never touches anything else. */
const OURS_RE = /^hsfl-\d+-\d+(?:$|[-/])/;
const MAX_HOSTS = 250;

function mbitToBit(mbit: number, what: string): number {
  if (!(mbit > 0) || !Number.isFinite(mbit)) throw new Error(`netlab: ${what} must be a positive number of Mbit/s, got ${mbit}`);
  return Math.max(8000, Math.round(mbit * 1e6));
}

/** tbf, plus netem under it when a delay is wanted. `pre` selects the namespace (`-n ns`). */
function shapingCommands(pre: string[], dev: string, rateMbit: number | undefined, delayMs: number | undefined, spec: NetLabHostSpec, dir: string): string[][] {
  const cmds: string[][] = [];
  if (rateMbit !== undefined) {
    const bit = mbitToBit(rateMbit, `${dir}Mbit of ${spec.name}`);
    const burst = spec.burstKb !== undefined ? Math.round(spec.burstKb * 1024) : Math.max(6 * 1024, Math.ceil(bit / 8 / 100));
    const latency = spec.latencyMs ?? 50;
    cmds.push([...pre, 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'tbf', 'rate', `${bit}bit`, 'burst', String(burst), 'latency', `${latency}ms`]);
    if (delayMs) cmds.push([...pre, 'qdisc', 'add', 'dev', dev, 'parent', '1:1', 'handle', '10:', 'netem', 'delay', `${delayMs}ms`]);
  } else if (delayMs) {
    cmds.push([...pre, 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'netem', 'delay', `${delayMs}ms`]);
  }
  return cmds;
}

function isNetemCmd(args: string[]): boolean {
  return args.includes('netem');
}

function netnsNames(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

function pidsOf(stdout: string): number[] {
  return stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * A lab of emulated hosts on this machine. Each host is a network namespace
 * whose `eth0` is one end of a veth pair; the other ends are ports of a
 * bridge in the root namespace that owns `.1` of a private /24. Hosts get
 * `.2`, `.3`, ... and only a route to that /24 (no default route), so code
 * in a host can reach the root namespace (and other hosts) and nothing else.
 * tbf on the host's eth0 limits its upload, tbf on the root-side veth its
 * download. CPU limits are CFS quotas on per-host cgroups.
 */
export class NetLab {
  readonly id: string;
  /** Warnings raised while building the lab (e.g. delay not emulated). */
  readonly warnings: string[] = [];
  private subnetCidr = '';
  private delayOk = true;

  private readonly tag: string;
  private base = 0;
  private lockFile?: string;
  private bridge?: string;
  private bridgeCreated = false;
  private cg?: CpuCgroups;
  private cgCreated = false;
  private readonly hostMap = new Map<string, Host>();
  private readonly children = new Set<ChildProcess>();
  private destroying?: Promise<void>;
  private done = false;

  private constructor(n: number) {
    this.id = `hsfl-${process.pid}-${n}`;
    // Interface names are limited to 15 characters: hs<pid base36>-<n base36>,
    // then B (bridge) or H<host index base36>; upper case never occurs in base36.
    this.tag = `hs${process.pid.toString(36)}-${n.toString(36)}`;
    if (this.tag.length + 3 > 15) throw new Error(`netlab: interface name prefix ${this.tag} too long`);
  }

  /** Builds a lab; on any failure, whatever was already created is removed before rejecting. */
  static async create(opts: NetLabOptions): Promise<NetLab> {
    if (process.platform !== 'linux') throw new Error('netlab: needs Linux (network namespaces, tc, cgroups)');
    if (process.getuid?.() !== 0) throw new Error('netlab: needs root (network namespaces, tc and cgroups)');
    const hosts = opts.hosts;
    if (!hosts.length) throw new Error('netlab: at least one host is needed');
    if (hosts.length > MAX_HOSTS) throw new Error(`netlab: at most ${MAX_HOSTS} hosts`);
    const seen = new Set<string>();
    for (const h of hosts) {
      if (!NAME_RE.test(h.name)) throw new Error(`netlab: bad host name '${h.name}' (want [A-Za-z0-9_.-]{1,32})`);
      if (seen.has(h.name)) throw new Error(`netlab: duplicate host name '${h.name}'`);
      seen.add(h.name);
      if (h.upMbit !== undefined) mbitToBit(h.upMbit, `upMbit of ${h.name}`);
      if (h.downMbit !== undefined) mbitToBit(h.downMbit, `downMbit of ${h.name}`);
      if (h.delayMs !== undefined && !(h.delayMs >= 0)) throw new Error(`netlab: delayMs of ${h.name} must be >= 0`);
      if (h.cpuFraction !== undefined && !(h.cpuFraction > 0)) throw new Error(`netlab: cpuFraction of ${h.name} must be > 0`);
    }
    const n = nextLabNumber();
    const lab = new NetLab(n);
    track(lab);
    try {
      await lab.setup(opts, n);
    } catch (e) {
      await lab.destroy().catch(() => undefined);
      throw e;
    }
    return lab;
  }

  private warn(opts: NetLabOptions, message: string): void {
    this.warnings.push(message);
    if (opts.onWarning) opts.onWarning(message);
    else process.emitWarning(message, 'NetLabWarning');
  }

  private async setup(opts: NetLabOptions, n: number): Promise<void> {
    const { base, lockFile } = await pickSubnet(this.id, (process.pid * 31 + n * 97) % (55 * 256), opts.subnet);
    this.base = base;
    this.lockFile = lockFile;
    this.subnetCidr = `${intToIp(base)}/24`;

    this.bridge = `${this.tag}B`;
    await must(IP, ['link', 'add', 'name', this.bridge, 'type', 'bridge']);
    this.bridgeCreated = true;
    await must(IP, ['link', 'set', 'dev', this.bridge, 'alias', this.id]);
    await must(IP, ['addr', 'add', `${intToIp(base + 1)}/24`, 'dev', this.bridge]);
    await must(IP, ['link', 'set', 'dev', this.bridge, 'up']);

    if (opts.hosts.some((h) => h.cpuFraction !== undefined)) {
      const found = detectCpuCgroup();
      if (!found.mount) throw new Error(`netlab: cpuFraction was asked for but ${found.why}`);
      this.cg = new CpuCgroups(found.mount, this.id);
      this.cg.create();
      this.cgCreated = true;
    }

    let netemMissing = false;
    for (const [index, spec] of opts.hosts.entries()) {
      const host: Host = {
        spec,
        index,
        ns: `${this.id}-${spec.name}`,
        veth: `${this.tag}H${index.toString(36)}`,
        address: intToIp(base + 2 + index),
        nsCreated: false,
        vethCreated: false,
      };
      this.hostMap.set(spec.name, host);
      const added = await run(IP, ['netns', 'add', host.ns]);
      if (added.code !== 0)
        throw new Error(
          `netlab: cannot create namespace ${host.ns}: ${added.stderr.trim()}` +
            (/exists/i.test(added.stderr) ? ' (a leftover of a crashed run with the same pid? NetLab.sweep() removes those)' : ''),
        );
      host.nsCreated = true;
      await must(IP, ['link', 'add', host.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
      host.vethCreated = true;
      await must(IP, ['link', 'set', 'dev', host.veth, 'alias', `${this.id}/${spec.name}`]);
      await must(IP, ['link', 'set', 'dev', host.veth, 'master', this.bridge]);
      await must(IP, ['link', 'set', 'dev', host.veth, 'up']);
      await must(IP, ['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      await must(IP, ['-n', host.ns, 'link', 'set', 'dev', 'eth0', 'up']);
      await must(IP, ['-n', host.ns, 'link', 'set', 'dev', 'lo', 'up']);

      const delay = spec.delayMs && !netemMissing ? spec.delayMs : undefined;
      const shaping = [
        ...shapingCommands([], host.veth, spec.downMbit, delay, spec, 'down'),
        ...shapingCommands(['-n', host.ns], 'eth0', spec.upMbit, delay, spec, 'up'),
      ];
      for (const args of shaping) {
        if (netemMissing && isNetemCmd(args)) continue;
        const r = await run(TC, args);
        if (r.code === 0) continue;
        if (isNetemCmd(args) && /unknown|No such file|not found|Invalid argument/i.test(r.stderr)) {
          const message =
            `netlab: netem is not available on this kernel (${r.stderr.trim()}); delayMs is IGNORED, ` +
            'links are only rate-limited (build the kernel with CONFIG_NET_SCH_NETEM or load sch_netem)';
          if (opts.requireDelay) throw new Error(message);
          netemMissing = true;
          this.delayOk = false;
          this.warn(opts, message);
          // A bare netem root failed: nothing was installed, nothing to undo.
          continue;
        }
        throw new Error(`netlab: \`tc ${args.join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
      }

      if (spec.cpuFraction !== undefined) this.cg!.add(spec.name, spec.cpuFraction, opts.cpuPeriodUs ?? 20000);
    }
  }

  private host(name: string): Host {
    const h = this.hostMap.get(name);
    if (!h) throw new Error(`netlab: no host '${name}' in lab ${this.id}`);
    return h;
  }

  /** The /24 in use, e.g. "10.213.7.0/24". */
  get subnet(): string {
    return this.subnetCidr;
  }

  /** False when some host asked for delayMs but netem is unavailable (see warnings). */
  get delayEmulated(): boolean {
    return this.delayOk;
  }

  /** Host names, in creation order. */
  get hosts(): string[] {
    return [...this.hostMap.keys()];
  }

  /** The host's IP address (its eth0 inside its namespace). */
  address(name: string): string {
    return this.host(name).address;
  }

  /** The root-namespace side of the host's link: bind a server here to serve that host. Same for every host. */
  rootAddress(name: string): string {
    this.host(name);
    return intToIp(this.base + 1);
  }

  /** The network namespace's name (for `ip netns exec`). */
  namespace(name: string): string {
    return this.host(name).ns;
  }

  /** The host's cgroup directory, if it has a CPU limit. */
  cgroup(name: string): string | undefined {
    this.host(name);
    const f = this.cg?.procsFile(name);
    return f ? join(f, '..') : undefined;
  }

  /**
   * The command line that runs `command args` as the host: inside its network
   * namespace and (unless opts.cpu === false) its CPU cgroup. For launchers
   * that spawn processes themselves.
   */
  command(name: string, command: string, args: string[] = [], opts: { cpu?: boolean } = {}): { command: string; args: string[] } {
    if (this.done || this.destroying) throw new Error(`netlab: lab ${this.id} is destroyed`);
    const h = this.host(name);
    const inNs = ['netns', 'exec', h.ns, command, ...args];
    const procs = opts.cpu === false ? undefined : this.cg?.procsFile(name);
    if (!procs) return { command: IP, args: inNs };
    // The shell joins the cgroup, then execs `ip netns exec` (which execs the
    // command): one pid throughout, limited from its first instruction. The
    // cgroup is joined first because `ip netns exec` remounts /sys.
    return { command: SH, args: ['-c', 'echo $$ > "$0" && exec "$@"', procs, IP, ...inNs] };
  }

  /** Spawns `command args` as the host. The process is killed by destroy(). */
  spawn(name: string, command: string, args: string[] = [], opts: NetLabSpawnOptions = {}): ChildProcess {
    const { cpu, ...spawnOpts } = opts;
    const c = this.command(name, command, args, { cpu });
    const child = spawnChild(c.command, c.args, spawnOpts);
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  get destroyed(): boolean {
    return this.done;
  }

  /**
   * Kills every process in the lab (SIGTERM, then SIGKILL after graceMs) and
   * removes every namespace, veth, bridge, qdisc, cgroup and lock it created.
   * Rejects (after trying everything) if anything could not be removed.
   */
  destroy(graceMs = 1000): Promise<void> {
    this.destroying ??= (async () => {
      if (this.done) return;
      const errors = await driveAsync(this.teardown(graceMs));
      this.finish();
      if (errors.length) throw new Error(`netlab: destroy of ${this.id} left things behind:\n${errors.join('\n')}`);
    })();
    return this.destroying;
  }

  /** Synchronous destroy, for exit handlers. Best effort; throws if something is left behind. */
  destroySync(): void {
    if (this.done) return;
    const errors = driveSync(this.teardown(200));
    this.finish();
    if (errors.length) throw new Error(`netlab: destroy of ${this.id} left things behind:\n${errors.join('\n')}`);
  }

  private finish(): void {
    this.done = true;
    untrack(this);
  }

  private *livePids(): Steps<number[]> {
    const pids = new Set<number>();
    for (const c of this.children) if (c.pid && c.exitCode === null && c.signalCode === null) pids.add(c.pid);
    for (const h of this.hostMap.values()) {
      if (!h.nsCreated) continue;
      const r = yield* cmd(IP, ['netns', 'pids', h.ns]);
      for (const p of pidsOf(r.stdout)) pids.add(p);
    }
    if (this.cgCreated && this.cg) for (const p of cgroupPids(this.cg.dir)) pids.add(p);
    pids.delete(process.pid);
    return [...pids].filter(pidAlive);
  }

  private *teardown(graceMs: number): Steps<string[]> {
    const errors: string[] = [];
    // 1. Processes: politely, then not.
    let pids = yield* this.livePids();
    if (pids.length && graceMs > 0) {
      for (const p of pids) killQuiet(p, 'SIGTERM');
      for (let waited = 0; waited < graceMs && pids.length; waited += 50) {
        yield* sleep(50);
        pids = yield* this.livePids();
      }
    }
    for (let i = 0; i < 60 && pids.length; i++) {
      for (const p of pids) killQuiet(p, 'SIGKILL');
      yield* sleep(50);
      pids = yield* this.livePids();
    }
    if (pids.length) errors.push(`processes still alive: ${pids.join(', ')}`);

    // 2. Links (deleting one end of a veth deletes both), then namespaces.
    for (const h of this.hostMap.values()) {
      if (h.vethCreated) yield* cmd(IP, ['link', 'del', 'dev', h.veth]);
      if (h.nsCreated) {
        const r = yield* cmd(IP, ['netns', 'del', h.ns]);
        if (r.code !== 0 && !/No such file/i.test(r.stderr)) errors.push(`ip netns del ${h.ns}: ${r.stderr.trim()}`);
      }
    }
    if (this.bridgeCreated && this.bridge) yield* cmd(IP, ['link', 'del', 'dev', this.bridge]);

    // 3. cgroups.
    if (this.cgCreated && this.cg) {
      const err = yield* removeCgroupTree(this.cg.dir);
      if (err) errors.push(err);
    }

    // 4. Verify nothing of ours is left.
    const nsList = yield* cmd(IP, ['netns', 'list']);
    for (const ns of netnsNames(nsList.stdout)) if (ns.startsWith(`${this.id}-`)) errors.push(`namespace ${ns} still exists`);
    const links = yield* cmd(IP, ['-j', 'link', 'show']);
    try {
      for (const l of JSON.parse(links.stdout || '[]') as { ifname: string; ifalias?: string }[]) {
        if (l.ifalias === this.id || l.ifalias?.startsWith(`${this.id}/`) || l.ifname.startsWith(`${this.tag}H`) || l.ifname === this.bridge)
          errors.push(`link ${l.ifname} still exists`);
      }
    } catch {
      errors.push(`cannot parse \`ip -j link show\`: ${links.stderr.trim()}`);
    }

    // 5. Give the subnet back.
    if (this.lockFile) releaseLock(this.lockFile);
    return errors;
  }

  /** What this machine lets the lab do (root, iproute2, namespaces, `ip -n`, tbf, netem, CPU cgroups), and why not. */
  static available(req: { cpu?: boolean } = {}): Promise<NetLabSupport> {
    return probeSupport(req);
  }

  /**
   * Removes leftovers of crashed runs: namespaces, links (by alias), cgroups
   * and subnet locks named hsfl-<pid>-<n>... that start with `prefix`. Things
   * whose creating process is still alive are skipped unless includeLive.
   */
  static sweep(prefix = 'hsfl-', opts: { includeLive?: boolean } = {}): Promise<SweepReport> {
    return driveAsync(sweepSteps(prefix, opts.includeLive ?? false));
  }

  /** Synchronous sweep (for exit handlers and scripts). */
  static sweepSync(prefix = 'hsfl-', opts: { includeLive?: boolean } = {}): SweepReport {
    return driveSync(sweepSteps(prefix, opts.includeLive ?? false));
  }
}

function* sweepSteps(prefix: string, includeLive: boolean): Steps<SweepReport> {
  const report: SweepReport = { namespaces: [], links: [], cgroups: [], locks: [], skipped: [], errors: [] };
  const wanted = (name: string | undefined): name is string => !!name && OURS_RE.test(name) && name.startsWith(prefix);
  const stale = (name: string): boolean => {
    const pid = ownerPid(name);
    if (includeLive || pid === undefined || !pidAlive(pid)) return true;
    report.skipped.push(name);
    return false;
  };

  // Links first: deleting a veth end also removes the end inside a namespace.
  const links = yield* cmd(IP, ['-j', 'link', 'show']);
  let parsed: { ifname: string; ifalias?: string }[] = [];
  try {
    parsed = JSON.parse(links.stdout || '[]') as typeof parsed;
  } catch {
    report.errors.push(`cannot parse \`ip -j link show\`: ${links.stderr.trim()}`);
  }
  for (const l of parsed) {
    if (!wanted(l.ifalias) || !stale(l.ifalias)) continue;
    const r = yield* cmd(IP, ['link', 'del', 'dev', l.ifname]);
    if (r.code === 0 || /Cannot find device/i.test(r.stderr)) report.links.push(l.ifname);
    else report.errors.push(`ip link del ${l.ifname}: ${r.stderr.trim()}`);
  }

  const nsList = yield* cmd(IP, ['netns', 'list']);
  for (const ns of netnsNames(nsList.stdout)) {
    if (!wanted(ns) || !stale(ns)) continue;
    for (let i = 0; i < 40; i++) {
      const pids = pidsOf((yield* cmd(IP, ['netns', 'pids', ns])).stdout).filter((p) => p !== process.pid);
      if (!pids.length) break;
      for (const p of pids) killQuiet(p, 'SIGKILL');
      yield* sleep(50);
    }
    const r = yield* cmd(IP, ['netns', 'del', ns]);
    if (r.code === 0) report.namespaces.push(ns);
    else if (!/No such file/i.test(r.stderr)) report.errors.push(`ip netns del ${ns}: ${r.stderr.trim()}`); // else: a concurrent sweep won
  }

  const found = detectCpuCgroup();
  if (found.mount) {
    let entries: string[] = [];
    try {
      entries = readdirSync(found.mount.root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      /* unreadable: nothing to sweep */
    }
    for (const e of entries) {
      if (!wanted(e) || !stale(e)) continue;
      const err = yield* removeCgroupTree(join(found.mount.root, e));
      if (err) report.errors.push(err);
      else report.cgroups.push(join(found.mount.root, e));
    }
  }

  for (const { file, owner } of listLocks()) {
    if (!wanted(owner) || !stale(owner)) continue;
    releaseLock(file);
    report.locks.push(file);
  }
  return report;
}
