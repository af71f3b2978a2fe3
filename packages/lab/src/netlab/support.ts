// What the machine lets the network-namespace lab do, found by trying it:
// root, iproute2, a namespace with a veth into it and `ip -n` inside, tbf,
// netem, and a CPU cgroup.
import { existsSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { CpuCgroups, detectCpuCgroup, type CpuCgroupMount } from './cgroup.js';
import { IP, must, run, TC } from './ops.js';
import type { NetLabSupport } from './netlab.js';

let labNumber = 0;

/** Numbers this process's labs and probes (names must not collide within a process). */
export function nextLabNumber(): number {
  return labNumber++;
}

/**
 * Checks whether a lab can be built here by building a tiny one (a
 * namespace, a veth with tbf, a netem probe, a cgroup with a CPU quota) and
 * removing it. `cpu: false` makes CPU quotas optional.
 */
export async function probeSupport(req: { cpu?: boolean } = {}): Promise<NetLabSupport> {
  const res: NetLabSupport = { ok: false, netem: false };
  if (process.platform !== 'linux') return { ...res, why: `needs Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ...res, why: `needs root (uid is ${process.getuid?.()})` };
  for (const [bin, args] of [[IP, ['-V']], [TC, ['-V']]] as const) {
    const r = await run(bin, [...args]);
    if (r.code !== 0) return { ...res, why: `\`${bin}\` not usable (install iproute2): ${r.stderr.trim()}` };
  }

  // CPU.
  const found = detectCpuCgroup();
  if (found.mount) {
    const err = probeCgroup(found.mount, `hsfl-${process.pid}-${nextLabNumber()}-probe`);
    if (err) res.cpuWhy = err;
    else res.cgroup = found.mount.version;
  } else res.cpuWhy = found.why;

  // Network: a namespace, a veth into it, tbf, netem.
  const n = nextLabNumber();
  const id = `hsfl-${process.pid}-${n}`;
  const ns = `${id}-probe`;
  const veth = `hs${process.pid.toString(36)}-P${n.toString(36)}`;
  let why: string | undefined;
  try {
    await must(IP, ['netns', 'add', ns]);
    await must(IP, ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await must(IP, ['link', 'set', 'dev', veth, 'alias', `${id}/probe`]);
    // The lab configures each host inside its namespace: `ip -n` must work
    // there too (it does not in a chroot whose root is not a mount point).
    await must(IP, ['-n', ns, 'addr', 'add', '10.254.254.2/30', 'dev', 'eth0']);
    const tbf = await run(TC, ['qdisc', 'add', 'dev', veth, 'root', 'handle', '1:', 'tbf', 'rate', '8mbit', 'burst', '8192', 'latency', '50ms']);
    if (tbf.code !== 0) why = `tc tbf qdisc unavailable: ${tbf.stderr.trim()}`;
    else {
      const netem = await run(TC, ['qdisc', 'add', 'dev', veth, 'parent', '1:1', 'handle', '10:', 'netem', 'delay', '1ms']);
      res.netem = netem.code === 0;
    }
  } catch (e) {
    why = (e as Error).message;
  } finally {
    await run(IP, ['link', 'del', 'dev', veth]);
    await run(IP, ['netns', 'del', ns]);
  }
  if (why) return { ...res, why };
  if (req.cpu !== false && res.cgroup === undefined) return { ...res, why: `CPU quotas unavailable: ${res.cpuWhy}` };
  return { ...res, ok: true };
}

function probeCgroup(mount: CpuCgroupMount, name: string): string | undefined {
  const cg = new CpuCgroups(mount, name);
  try {
    cg.create();
    cg.add('probe', 0.5, 20000);
    return undefined;
  } catch (e) {
    return `cgroup v${mount.version} at ${mount.root} not usable: ${(e as Error).message}`;
  } finally {
    for (const d of [join(cg.dir, 'probe'), cg.dir]) {
      try {
        if (existsSync(d)) rmdirSync(d);
      } catch {
        /* reported by the caller's sweep if ever */
      }
    }
  }
}
