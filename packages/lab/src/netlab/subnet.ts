import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { IP, must, pidAlive } from './ops.js';

/** Lock files (one per /24 in use by a live lab) so that concurrent labs never pick the same subnet. */
export const LOCK_DIR = '/run/hsfl-netlab';

export interface Cidr {
  base: number;
  bits: number;
}

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`netlab: bad IPv4 address '${ip}'`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(s: string): Cidr {
  const [ip, bitsStr] = s.split('/');
  const bits = bitsStr === undefined ? 32 : Number(bitsStr);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`netlab: bad prefix '${s}'`);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (ipToInt(ip!) & mask) >>> 0, bits };
}

function span(c: Cidr): [number, number] {
  const size = 2 ** (32 - c.bits);
  return [c.base, c.base + size - 1];
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const [a0, a1] = span(a);
  const [b0, b1] = span(b);
  return a0 <= b1 && b0 <= a1;
}

/** Every IPv4 prefix the root namespace routes or owns (all tables, all addresses), except default routes. */
export async function usedPrefixes(): Promise<Cidr[]> {
  const out: Cidr[] = [];
  const routes = JSON.parse((await must(IP, ['-4', '-j', 'route', 'show', 'table', 'all'])) || '[]') as { dst?: string }[];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || r.dst === '0.0.0.0/0') continue;
    try {
      out.push(parseCidr(r.dst));
    } catch {
      /* not a plain IPv4 prefix */
    }
  }
  const addrs = JSON.parse((await must(IP, ['-4', '-j', 'addr', 'show'])) || '[]') as { addr_info?: { local?: string; prefixlen?: number }[] }[];
  for (const link of addrs)
    for (const a of link.addr_info ?? []) if (a.local && a.prefixlen !== undefined) out.push(parseCidr(`${a.local}/${a.prefixlen}`));
  return out;
}

/** Pid encoded in names of the form `hsfl-<pid>-<n>...`, if any. */
export function ownerPid(name: string): number | undefined {
  const m = /^hsfl-(\d+)-/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function tryLock(file: string, owner: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, owner);
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // Held: steal it only if the owning process is gone.
    let holder = '';
    try {
      holder = readFileSync(file, 'utf8').trim();
    } catch {
      continue; // released meanwhile
    }
    const pid = ownerPid(holder);
    if (pid === undefined || pidAlive(pid)) return false;
    try {
      unlinkSync(file);
    } catch {
      /* someone else stole it first */
    }
  }
  return false;
}

export function releaseLock(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** Every subnet lock file, with the lab id that holds it. */
export function listLocks(): { file: string; owner: string }[] {
  let names: string[] = [];
  try {
    names = readdirSync(LOCK_DIR);
  } catch {
    return [];
  }
  return names.map((n) => {
    const file = join(LOCK_DIR, n);
    let owner = '';
    try {
      owner = readFileSync(file, 'utf8').trim();
    } catch {
      /* vanished */
    }
    return { file, owner };
  });
}

/**
 * Picks a private /24 (10.200.0.0 - 10.254.255.0) that overlaps no route or
 * address of the root namespace and no other live lab, and locks it.
 * `requested` ("a.b.c.0/24") skips the search but is still checked.
 */
export async function pickSubnet(owner: string, seed: number, requested?: string): Promise<{ base: number; lockFile: string }> {
  mkdirSync(LOCK_DIR, { recursive: true });
  const used = await usedPrefixes();
  const total = 55 * 256;
  const candidates: number[] = [];
  if (requested) {
    const c = parseCidr(requested);
    if (c.bits !== 24) throw new Error(`netlab: subnet must be a /24, got '${requested}'`);
    candidates.push(c.base);
  } else {
    for (let k = 0; k < total; k++) {
      const idx = (seed + k) % total;
      candidates.push(ipToInt(`10.${200 + Math.floor(idx / 256)}.${idx % 256}.0`));
    }
  }
  for (const base of candidates) {
    const cidr = { base, bits: 24 };
    if (used.some((u) => overlaps(u, cidr))) continue;
    const lockFile = join(LOCK_DIR, `${intToIp(base)}.lock`);
    if (tryLock(lockFile, owner)) return { base, lockFile };
  }
  throw new Error(
    requested
      ? `netlab: subnet ${requested} overlaps an existing route/address or is held by another lab`
      : 'netlab: no free /24 in 10.200.0.0-10.254.255.255',
  );
}
