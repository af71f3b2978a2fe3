import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killQuiet, sleep, type Steps } from './ops.js';

/** Where the cpu controller is mounted: cgroup v1 (`cpu` hierarchy) or v2 (unified, with `cpu` enabled). */
export interface CpuCgroupMount {
  version: 1 | 2;
  /** Mount point, e.g. /sys/fs/cgroup/cpu (v1) or /sys/fs/cgroup (v2). */
  root: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Finds the cpu controller. A controller is bound to at most one hierarchy, so
 * on a hybrid system (v1 cpu + an empty v2 'unified') the v1 one wins.
 */
export function detectCpuCgroup(): { mount?: CpuCgroupMount; why?: string } {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch (e) {
    return { why: `cannot read /proc/self/mounts: ${(e as Error).message}` };
  }
  let v2: string | undefined;
  let v2NoCpu: string | undefined;
  for (const line of mounts.split('\n')) {
    const [, mp, type, opts] = line.split(' ');
    if (!mp || !type || !opts) continue;
    const point = unescapeMount(mp);
    if (type === 'cgroup' && opts.split(',').includes('cpu')) return { mount: { version: 1, root: point } };
    if (type === 'cgroup2') {
      let controllers = '';
      try {
        controllers = readFileSync(join(point, 'cgroup.controllers'), 'utf8');
      } catch {
        /* unreadable */
      }
      if (controllers.split(/\s+/).includes('cpu')) v2 ??= point;
      else v2NoCpu ??= point;
    }
  }
  if (v2) return { mount: { version: 2, root: v2 } };
  return {
    why: v2NoCpu
      ? `cgroup v2 is mounted at ${v2NoCpu} but its cgroup.controllers has no 'cpu', and no cgroup v1 'cpu' hierarchy is mounted`
      : 'no cgroup cpu controller is mounted (neither a v1 cgroup with the cpu option nor cgroup2)',
  };
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** Directories of a cgroup subtree, children before parents. */
function subtree(dir: string): string[] {
  const out: string[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return existsSync(dir) ? [dir] : [];
  }
  for (const e of entries) out.push(...subtree(join(dir, e)));
  out.push(dir);
  return out;
}

/** Every pid in a cgroup subtree. */
export function cgroupPids(dir: string): number[] {
  return subtree(dir).flatMap((d) => readPids(join(d, 'cgroup.procs')));
}

/**
 * SIGKILLs everything in a cgroup subtree and removes its directories,
 * retrying while the killed processes die. Returns an error message if the
 * tree is still there after ~3 s.
 */
export function* removeCgroupTree(dir: string): Steps<string | undefined> {
  let last = '';
  for (let attempt = 0; attempt < 60; attempt++) {
    if (!existsSync(dir)) return undefined;
    const dirs = subtree(dir);
    // v2 (5.14+) can kill a whole subtree atomically; v1 has to do it pid by pid.
    if (existsSync(join(dir, 'cgroup.kill'))) {
      try {
        writeFileSync(join(dir, 'cgroup.kill'), '1');
      } catch {
        /* fall through to per-pid */
      }
    }
    for (const d of dirs) for (const pid of readPids(join(d, 'cgroup.procs'))) killQuiet(pid, 'SIGKILL');
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch (e) {
        last = `${d}: ${(e as Error).message}`;
      }
    }
    if (!existsSync(dir)) return undefined;
    yield* sleep(50);
  }
  return `could not remove cgroup ${dir} (${last})`;
}

/** A parent cgroup owned by one lab, with one CPU-limited child per host. */
export class CpuCgroups {
  readonly dir: string;
  private readonly children = new Map<string, string>();

  constructor(readonly mount: CpuCgroupMount, name: string) {
    this.dir = join(mount.root, name);
  }

  /** Creates the parent cgroup (and, on v2, delegates the cpu controller to it). */
  create(): void {
    if (this.mount.version === 2) enableCpu(this.mount.root);
    mkdirSync(this.dir);
    if (this.mount.version === 2) enableCpu(this.dir);
  }

  /** A child cgroup allowed `fraction` of one core per `periodUs`; returns its directory. */
  add(host: string, fraction: number, periodUs: number): string {
    if (!(fraction > 0) || !Number.isFinite(fraction)) throw new Error(`netlab: cpuFraction of ${host} must be a positive number, got ${fraction}`);
    // The kernel wants quota >= 1 ms and period in [1 ms, 1 s]; lengthen the period for tiny fractions.
    let period = Math.round(periodUs);
    if (fraction * period < 1000) period = Math.ceil(1000 / fraction);
    if (period < 1000 || period > 1000000) throw new Error(`netlab: cpuFraction ${fraction} needs a CFS period of ${period} us, outside [1000, 1000000]`);
    const quota = Math.max(1000, Math.round(fraction * period));
    const dir = join(this.dir, host);
    mkdirSync(dir);
    this.children.set(host, dir);
    if (this.mount.version === 1) {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(period));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    } else {
      writeFileSync(join(dir, 'cpu.max'), `${quota} ${period}`);
    }
    return dir;
  }

  /** The file a pid is written to in order to move it into the host's cgroup. */
  procsFile(host: string): string | undefined {
    const dir = this.children.get(host);
    return dir ? join(dir, 'cgroup.procs') : undefined;
  }

  pids(host: string): number[] {
    const dir = this.children.get(host);
    return dir ? readPids(join(dir, 'cgroup.procs')) : [];
  }
}

function enableCpu(dir: string): void {
  const ctl = join(dir, 'cgroup.subtree_control');
  if (readFileSync(ctl, 'utf8').split(/\s+/).includes('cpu')) return;
  try {
    writeFileSync(ctl, '+cpu');
  } catch (e) {
    throw new Error(
      `netlab: cannot enable the cpu controller in ${ctl} (${(e as Error).message}); on cgroup v2 the lab needs a cgroup ` +
        'with no processes of its own to delegate from (run as root on the host, or with a delegated cgroup)',
    );
  }
}
