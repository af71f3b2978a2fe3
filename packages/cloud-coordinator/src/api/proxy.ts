import { BlockList, isIP, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * Which peers may speak for a client: the addresses and CIDR blocks of
 * reverse proxies the operator named (`--trusted-proxy`). Only a request
 * whose socket peer is one of them has its X-Forwarded-For (client address)
 * and X-Forwarded-Proto (https) believed; from anyone else these headers are
 * ignored, since any client can send them. With no list, nothing is trusted.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** Whether each connection's peer is trusted: asked on every request of a keep-alive connection, answered once. */
  private readonly peers = new WeakMap<Socket, boolean>();
  readonly entries: readonly string[];

  /** Throws a readable error for an entry that is not an IP address or CIDR block. */
  constructor(entries: readonly string[] = []) {
    const problems: string[] = [];
    for (const raw of entries) {
      const e = typeof raw === 'string' ? raw.trim() : '';
      const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(e);
      const family = m ? isIP(m[1]!) : 0;
      const bits = m?.[2] === undefined ? undefined : Number(m[2]);
      if (!m || family === 0 || (bits !== undefined && bits > (family === 4 ? 32 : 128))) {
        problems.push(`trusted proxy ${JSON.stringify(raw)} is not an IP address or CIDR block (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8)`);
        continue;
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(m[1]!, type);
      else this.list.addSubnet(m[1]!, bits, type);
    }
    if (problems.length) throw new Error(problems.join('; '));
    this.entries = entries.map((e) => e.trim());
  }

  get any(): boolean {
    return this.entries.length > 0;
  }

  /** Whether `address` (as a socket reports it; IPv4-mapped IPv6 included) is a trusted proxy. */
  trusts(address: string | undefined): boolean {
    if (!this.any || !address) return false;
    const a = unmap(address);
    const family = isIP(a);
    return family !== 0 && this.list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }

  private peerTrusted(socket: Socket): boolean {
    if (!this.any) return false;
    let t = this.peers.get(socket);
    if (t === undefined) {
      t = this.trusts(socket.remoteAddress);
      this.peers.set(socket, t);
    }
    return t;
  }

  /**
   * The client's address: the socket peer, or, while the hop is a trusted
   * proxy, the address it forwarded (X-Forwarded-For read from the right).
   * A forwarded value that is not an IP address stops the walk.
   */
  clientAddress(req: IncomingMessage): string {
    let addr = unmap(req.socket.remoteAddress ?? 'unknown');
    if (!this.peerTrusted(req.socket)) return addr;
    const hops = forwardedFor(req.headers['x-forwarded-for']);
    while (hops.length > 0 && this.trusts(addr)) {
      const next = unmap(hops.pop()!);
      if (isIP(next) === 0) break;
      addr = next;
    }
    return addr;
  }

  /** Whether a trusted proxy says the client spoke https to it. */
  forwardedHttps(req: IncomingMessage): boolean {
    if (!this.peerTrusted(req.socket)) return false;
    const h = req.headers['x-forwarded-proto'];
    const v = Array.isArray(h) ? h[h.length - 1] : h;
    // A chain of proxies appends: the last value is what the nearest (trusted) one saw.
    return typeof v === 'string' && v.split(',').pop()!.trim().toLowerCase() === 'https';
  }
}

function unmap(a: string): string {
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

function forwardedFor(h: string | string[] | undefined): string[] {
  if (h === undefined) return [];
  const all = (Array.isArray(h) ? h.join(',') : h).split(',').map((s) => s.trim()).filter(Boolean);
  // A hostile header can be long; only the nearest hops can ever be believed anyway.
  return all.slice(-32);
}
