// The rules of the two link halves as pure functions, so that they are
// decided (and tested) apart from sockets: who may join, what happens to a
// second hello under a taken id, how a node retries its parent, and whom the
// server's per-address limits count together.
import { isIPv4, isIPv6 } from 'node:net';
import { ProtocolError, checkNodeId, clip, sameSecret, type Role } from '@hsfl/protocol';

/**
 * What a hello must carry to join: the role this server serves, a valid
 * id, and (without TLS identities, token defined) the join token, compared
 * in constant time; returns the id. Under TLS the certificate proves the id
 * instead (ChildLinks' authenticate), and the token is not asked for.
 */
export function checkHello(m: { token: string; role: Role; nodeId: string }, expect: { token?: string; role: Role; childName: string }): string {
  if (expect.token !== undefined && !sameSecret(m.token, expect.token)) throw new ProtocolError('unauthorized', 'wrong join token');
  if (m.role !== expect.role) throw new ProtocolError('malformed', `only ${expect.childName}s may join here`);
  return checkNodeId(m.nodeId);
}

/**
 * A second hello under an id that was held when it arrived, decided once
 * the holder's liveness check is over. Nobody can prove who the real holder
 * is with a shared token, so the connection that is demonstrably alive keeps
 * the id: the newcomer takes over only from a holder that is still the one
 * it asked about and did not answer; if the id was freed meanwhile it joins.
 */
export function secondHelloVerdict<L>(holderAskedAbout: L, holderNow: L | undefined, holderAnswered: boolean): 'join' | 'refuse' | 'replace' {
  if (holderNow === undefined) return 'join';
  if (holderNow !== holderAskedAbout || holderAnswered) return 'refuse';
  return 'replace';
}

/** Delay before reconnection attempt n (1-based): doubling from minMs, capped at maxMs. */
export function reconnectDelay(n: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(Math.max(n, 1), 10));
}

/** Whether attempt n gets a log line: the first three, then every tenth (visible without flooding). */
export function logsAttempt(n: number): boolean {
  return n <= 3 || n % 10 === 0;
}

/**
 * Whether the node itself must reconnect after a disconnect: socket.io-client
 * retries by itself except after the server closed the connection, which is
 * what a restarting parent does.
 */
export function mustReconnectItself(reason: string): boolean {
  return reason === 'io server disconnect';
}

/**
 * The hello's free-text fields as they are kept and passed on (node rows,
 * logs, the dashboard): cut to bounded lengths. The id itself is already
 * checked to be at most 64 characters.
 */
export function boundedHello<H extends { backend: string; software: string; host: string }>(m: H): H {
  const cut = (s: string, n: number) => (s.length <= n ? s : s.slice(0, n));
  return { ...m, backend: cut(m.backend, 64), software: cut(m.software, 64), host: cut(m.host, 128) };
}

/** A refused hello's id as it may be logged: any string, cut to 64 characters. */
export function loggableId(id: unknown): string {
  return clip(id, 64);
}

/**
 * The source a per-address limit counts a connection under: an IPv4
 * address (also when it arrives IPv4-mapped), or the /64 prefix of an IPv6
 * address, since one host commonly holds a whole /64 and could otherwise
 * spread its attempts over 2^64 addresses.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address)) return address;
  const bare = address.split('%')[0]!;
  if (!isIPv6(bare)) return clip(address, 64);
  const [head, tail] = bare.includes('::') ? bare.split('::') as [string, string] : [bare, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const full = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return `${full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
